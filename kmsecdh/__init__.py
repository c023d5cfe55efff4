"""kmsecdh: AWS KMS ECDH key agreement with NIST SP 800-56C key derivation.

This package is shared by the derive Lambda and the command line. It never imports CDK code.
"""
