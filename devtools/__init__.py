"""Development helpers of the kmsecdh repository: never installed, never bundled into the Lambda.

* ``local_endpoint``: starts and stops the local KMS endpoint (localstack-core, KMS only) for tests,
  the demo and benchmarks;
* ``openssl``: the OpenSSL command line as the reference peer (key generation, ECDH, SP 800-56C KDFs);
* ``demo``: the two-party walkthrough, ``make demo`` (``python -m devtools.demo``), with its HPKE and JWE
  exchanges in ``demo_standards``;
* ``in_process_lambda``: a boto3 Lambda client stand-in serving the derive handler in this process.

``PROJECT_ROOT`` (the repository's root) and ``CDK_CLI`` (the pinned CDK CLI ``npm ci`` installs) are the one
definition of each that the tests, tools and benchmarks use.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_CLI = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
