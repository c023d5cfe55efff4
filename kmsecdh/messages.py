"""AWS Encryption SDK messages between the two parties of an ECDH key agreement.

The peer without AWS uses the Raw ECDH keyring (its own private key, the other party's public key);
the KMS key owner uses the AWS KMS ECDH keyring, whose private-key half is ``kms:DeriveSharedSecret``.
Both are static-static: a message decrypts only with one of the two private keys *and* the other
party's public key, so decrypting also authenticates who encrypted. The message format is the
ESDK's (key-committing, signed), readable by every ESDK language.

The ESDK and its Material Providers Library raise errors whose messages rarely say what went wrong
("Could not decode input from Dafny Bytes."); ``decrypt_stream`` maps them to ``InvalidMessage``,
``WrongKey`` and ``ContextMismatch``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import BinaryIO

import aws_encryption_sdk
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.errors import ComAmazonawsKms, ServiceError
from aws_cryptographic_material_providers.mpl.models import (
    CreateAwsKmsEcdhKeyringInput,
    CreateRawEcdhKeyringInput,
    KmsEcdhStaticConfigurationsKmsPrivateKeyToStaticPublicKey,
    KmsPrivateKeyToStaticPublicKeyInput,
    RawEcdhStaticConfigurationsRawPrivateKeyToStaticPublicKey,
    RawPrivateKeyToStaticPublicKeyInput,
)
from aws_cryptographic_material_providers.mpl.references import IKeyring
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from cryptography.exceptions import InvalidSignature, InvalidTag

from kmsecdh.errors import DeriveError

# Keys the ESDK adds to the encryption context itself (the message's signature verification key).
RESERVED_CONTEXT_PREFIX = "aws-crypto-"
_CHUNK_SIZE = 64 * 1024

# The ESDK logs a traceback when a stream is closed after a failure; we report the failure ourselves.
logging.getLogger("aws_encryption_sdk").addHandler(logging.NullHandler())


class InvalidMessage(DeriveError):
    """The message is truncated, malformed or was modified after encryption."""


class WrongKey(DeriveError):
    """The message was not encrypted between these two keys."""


class KeyAgreementFailed(DeriveError):
    """KMS refused or failed the DeriveSharedSecret call the KMS ECDH keyring made."""


class ContextMismatch(DeriveError):
    """The message's encryption context lacks a required key or has another value for it."""


def _material_providers() -> AwsCryptographicMaterialProviders:
    return AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())


def _esdk_client() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


def raw_ecdh_keyring(private_key_pem: bytes, peer_public_key_der: bytes, key_spec: str) -> IKeyring:
    """The peer's keyring: its PEM private key and the other party's DER SubjectPublicKeyInfo."""
    scheme = RawEcdhStaticConfigurationsRawPrivateKeyToStaticPublicKey(
        RawPrivateKeyToStaticPublicKeyInput(
            sender_static_private_key=private_key_pem, recipient_public_key=peer_public_key_der
        )
    )
    keyring_input = CreateRawEcdhKeyringInput(key_agreement_scheme=scheme, curve_spec=key_spec)
    try:
        return _material_providers().create_raw_ecdh_keyring(keyring_input)
    except ServiceError as error:
        raise WrongKey(f"cannot build the ECDH keyring: {_message_of(error)}") from None


def kms_ecdh_keyring(kms_client: object, key_id: str, peer_public_key_der: bytes, key_spec: str) -> IKeyring:
    """The key owner's keyring: the KMS key (through DeriveSharedSecret) and the peer's public key."""
    scheme = KmsEcdhStaticConfigurationsKmsPrivateKeyToStaticPublicKey(
        KmsPrivateKeyToStaticPublicKeyInput(
            sender_kms_identifier=key_id, recipient_public_key=peer_public_key_der
        )
    )
    keyring_input = CreateAwsKmsEcdhKeyringInput(
        key_agreement_scheme=scheme, curve_spec=key_spec, kms_client=kms_client
    )
    try:
        return _material_providers().create_aws_kms_ecdh_keyring(keyring_input)
    except ServiceError as error:
        raise _keyring_error(error) from None


def encrypt_stream(
    source: BinaryIO, sink: BinaryIO, keyring: IKeyring, context: Mapping[str, str] | None = None
) -> None:
    """Write the ESDK message encrypting ``source`` under ``keyring`` to ``sink``."""
    try:
        with _esdk_client().stream(
            mode="e", source=source, keyring=keyring, encryption_context=dict(context or {})
        ) as encryptor:
            for chunk in encryptor:
                sink.write(chunk)
    except (AWSEncryptionSDKClientError, ServiceError) as error:
        raise _keyring_error(error) from None


def decrypt_stream(
    source: BinaryIO,
    sink: BinaryIO,
    keyring: IKeyring,
    expected_context: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Decrypt the ESDK message in ``source`` into ``sink``; return its encryption context.

    Every pair of ``expected_context`` must be in the message's context; it is checked on the
    header, before any plaintext. ``sink`` receives plaintext before the final signature check,
    so callers must discard what it holds if this raises.
    """
    try:
        with _esdk_client().stream(mode="d", source=source, keyring=keyring) as decryptor:
            context = _user_context(decryptor.header.encryption_context)
            check_context(context, expected_context or {})
            for chunk in decryptor:
                sink.write(chunk)
            # The ESDK stops reading at the end of the message; bytes after it mean a damaged file.
            if source.read(1):
                raise InvalidMessage("unexpected data after the end of the message")
    except (InvalidTag, InvalidSignature):
        raise InvalidMessage("message authentication failed: it was modified after encryption") from None
    except (AWSEncryptionSDKClientError, ServiceError) as error:
        raise _decrypt_error(error) from None
    except (ValueError, KeyError, IndexError, OverflowError):
        # UnicodeDecodeError and kin: the header parser trips over bytes that are not an ESDK message.
        raise InvalidMessage(_MALFORMED) from None
    return context


def _user_context(context: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in context.items() if not key.startswith(RESERVED_CONTEXT_PREFIX)}


def check_context(actual: Mapping[str, str], expected: Mapping[str, str]) -> None:
    """Raise ContextMismatch naming the first required pair ``actual`` lacks."""
    for key, value in expected.items():
        if key not in actual:
            raise ContextMismatch(f"encryption context has no key {key!r}")
        if actual[key] != value:
            raise ContextMismatch(f"encryption context {key!r} is {actual[key]!r}, expected {value!r}")


def _unwrap(error: Exception) -> Exception:
    """The Material Providers error the ESDK wrapped, if it wrapped one."""
    inner = error.args[0] if error.args else None
    return inner if isinstance(inner, ServiceError) else error


def _message_of(error: Exception) -> str:
    return getattr(error, "message", None) or str(error) or type(error).__name__


def _keyring_error(error: Exception) -> DeriveError:
    error = _unwrap(error)
    if isinstance(error, ComAmazonawsKms):
        return KeyAgreementFailed(f"KMS DeriveSharedSecret failed: {_message_of(error)}")
    return WrongKey(f"the ECDH keyring failed: {_message_of(error)}")


# Messages of the ESDK's base error class that mean "no EDK opened with this keyring".
_NO_KEY_MATCHED = ("No Configured Key was able to decrypt", "Could not decode input from Dafny Bytes")
_MALFORMED = "message is truncated, malformed or was modified after encryption"


def _decrypt_error(error: Exception) -> DeriveError:
    if isinstance(_unwrap(error), ComAmazonawsKms):
        return _keyring_error(error)
    if type(error) is AWSEncryptionSDKClientError and str(error).startswith(_NO_KEY_MATCHED):
        return WrongKey(
            "no data key in the message decrypts with this key and peer public key "
            "(wrong key, wrong peer, or a modified header)"
        )
    return InvalidMessage(f"{_MALFORMED} ({type(error).__name__})")
