"""What each subcommand does once its options are parsed: one module per group of commands.

How a command slots in: its namesake in ``kmsecdh.cli.options`` declares its options (with nothing
heavier than the standard library, cryptography and ``kmsecdh``'s own light modules) and names its handler
as ``"<module>:<function>"`` of this package; ``kmsecdh.cli.main`` imports that module only when the
command runs. So a module here imports at its top exactly what its commands use, and ``kmsecdh
--help`` or ``derive-local`` never pays for boto3 or the Encryption SDK:

* ``local``: ``keygen``, ``derive-local`` (cryptography only: the peer's side, no AWS);
* ``function``: ``public-key``, ``derive`` (boto3, through ``kmsecdh.client`` for the derive function);
* ``messages``: ``encrypt``, ``decrypt`` (the AWS Encryption SDK, and boto3 for a KMS keyring);
* ``audit``: ``audit`` (boto3: CloudTrail, CloudWatch Logs);
* ``hpke``: ``hpke seal``, ``hpke open`` (cryptography; boto3 only to open with a KMS key);
* ``jwe``: ``jwe encrypt``, ``jwe decrypt`` (cryptography; boto3 only to decrypt with a KMS key or the
  derive function, through ``kmsecdh.client``);
* ``jwks``: ``jwks`` (boto3: KMS GetPublicKey, or the derive function through ``kmsecdh.client``).

A handler takes the parsed ``argparse.Namespace`` and returns the exit code; it raises UsageError,
CommandError or any library error, and ``kmsecdh.cli.errors.describe`` turns it into one line.
"""
