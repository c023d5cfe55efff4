"""kmsecdh: AWS KMS ECDH key agreement with NIST SP 800-56C key derivation.

This package is shared by the derive Lambda and the command line. It never imports CDK code.

Importing it keeps AWS request and response contents out of every log of the process, whatever the
log level (see ``kmsecdh.log.drop_aws_wire_records``): a DeriveSharedSecret response carries Z.
"""

from kmsecdh.log import drop_aws_wire_records

drop_aws_wire_records()
