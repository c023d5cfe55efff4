"""The client tests reuse the command line's fixtures: OpenSSL peer keys, KMS keys on the local endpoint
and the derive function served in this process."""

from tests.cli.conftest import derive_function, make_kms_key, make_peer_key

__all__ = ["derive_function", "make_kms_key", "make_peer_key"]
