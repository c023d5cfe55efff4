"""Development helpers of the kmsecdh repository: never installed, never bundled into the Lambda.

* ``local_endpoint``: starts and stops the local KMS endpoint (localstack-core, KMS only) for tests,
  the demo and benchmarks;
* ``openssl``: the OpenSSL command line as the reference peer (key generation, ECDH, SP 800-56C KDFs);
* ``demo``: the two-party walkthrough, ``make demo`` (``python -m devtools.demo``), with its HPKE and JWE
  exchanges in ``demo_standards``;
* ``in_process_lambda``: a boto3 Lambda client stand-in serving the derive handler in this process, and
  ``environment``, which sets the handler's configuration and KMS endpoint for a block.

``PROJECT_ROOT`` (the repository's root), ``CDK_CLI`` (the pinned CDK CLI ``npm ci`` installs) and
``use_project_node`` (the pinned Node it runs on) are the one definition of each that the tests, tools and
benchmarks use.
"""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
CDK_CLI = NODE_BIN / "cdk"


def use_project_node() -> None:
    """Run the CDK CLI and the jsii kernel on the project's pinned Node, for this process and its children.

    ``npm ci`` installs npm's ``node`` package (package.json) as ``node_modules/.bin/node``: a Node release
    the CDK CLI and jsii support, whatever Node the machine has. Both find Node on ``PATH``: the CLI's
    script starts with ``#!/usr/bin/env node``, and jsii runs ``$JSII_NODE`` or else ``node``
    (``jsii._kernel.providers.process``), for the app the CLI starts and for CDK code imported in this
    process. So this puts ``node_modules/.bin`` first on ``PATH``; a ``JSII_NODE`` someone set is left alone.
    """
    path = os.environ.get("PATH", "").split(os.pathsep)
    others = [entry for entry in path if entry and entry != str(NODE_BIN)]
    os.environ["PATH"] = os.pathsep.join([str(NODE_BIN), *others])
