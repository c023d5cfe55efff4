"""kmsecdh: AWS KMS ECDH key agreement with NIST SP 800-56C key derivation.

The runtime package: what the derive Lambda runs (its entry point ``lambda/derive/handler.py`` hands
each invocation to ``kmsecdh.service``), the client application code
calls it with (``kmsecdh.client``), a KMS key as the recipient of HPKE and JWE (``kmsecdh.kms_key``,
``kmsecdh.hpke``, ``kmsecdh.jose``, ``kmsecdh.jwk``) and the command line (``kmsecdh.cli``). It never
imports CDK code: the constructs are the separate package ``kmsecdh_cdk`` (docs/architecture.md).

Importing it keeps AWS request and response contents out of every log of the process, whatever the
log level (see ``kmsecdh.log.drop_aws_wire_records``): a DeriveSharedSecret response carries Z.
"""

from kmsecdh.log import drop_aws_wire_records

drop_aws_wire_records()
