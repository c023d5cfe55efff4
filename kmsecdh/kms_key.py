"""A KMS key agreement key as a pyca/cryptography ``ec.EllipticCurvePrivateKey``, for ECDH only.

``KmsPrivateKey(key_id)`` stands wherever cryptography (or code written against it) expects an EC
private key for ECDH: ``exchange(ec.ECDH(), peer)`` is KMS ``DeriveSharedSecret`` with the peer's DER
SubjectPublicKeyInfo, after the peer key has passed the same validation as the derive function's
(``kmsecdh.keys``: on the key's curve, on the curve, not infinity); ``public_key()``, ``curve`` and
``key_size`` come from one ``GetPublicKey`` made when the object is created. The private key never
leaves KMS, so every other operation (signing, private numbers, serialization) raises
``KmsKeyOperationError`` naming the operation. KMS errors become the derive function's DeriveError
classes (``KeyUnavailable``, ``AccessDenied``, ``KmsThrottled``, ...), mapped by the same table.

cryptography 50's ``hpke.Suite.decrypt`` calls ``exchange`` on such an object once per message
(``kmsecdh.hpke`` relies on it); ``kmsecdh.jose`` calls it for JWE ECDH-ES.
"""

from __future__ import annotations

from typing import Any, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.errors import InvalidPublicKey, KeyNotAllowed, KmsUnavailable
from kmsecdh.keys import (
    KEY_AGREEMENT,
    KEY_SPECS,
    load_peer_public_key,
    load_peer_public_key_der,
    public_key_der,
)

# The derive function's KMS error table, reused so that both paths report KMS errors alike.
from kmsecdh.kms_calls import KEY_AGREEMENT_ALGORITHM, kms_error


class KmsKeyOperationError(TypeError):
    """An operation that needs the private key itself, which never leaves KMS."""


class KmsPrivateKey(ec.EllipticCurvePrivateKey):
    """The KEY_AGREEMENT KMS key ``key_id`` (key id, key ARN, alias name or alias ARN) as an EC private
    key whose only private operation is ECDH.

    ``client`` is a boto3 KMS client (default: a new one from boto3's usual settings). Creating the
    object calls ``GetPublicKey`` once; a key that is not a KEY_AGREEMENT key on P-256, P-384 or
    P-521 raises KeyNotAllowed.
    """

    def __init__(self, key_id: str, client: Any | None = None) -> None:
        self._client = client if client is not None else boto3.session.Session().client("kms")
        try:
            response = self._client.get_public_key(KeyId=key_id)
        except (ClientError, BotoCoreError) as error:
            raise kms_error(error) from None
        key_spec, usage = response.get("KeySpec"), response.get("KeyUsage")
        if usage != KEY_AGREEMENT or key_spec not in KEY_SPECS:
            raise KeyNotAllowed(
                f"KMS key {key_id} is a {usage} key of spec {key_spec}, not a {KEY_AGREEMENT} key on "
                f"{', '.join(KEY_SPECS)}"
            )
        try:
            self._public_key = load_peer_public_key(response.get("PublicKey", b""), key_spec)
        except InvalidPublicKey:
            raise KmsUnavailable("KMS returned a public key that does not parse") from None
        self._key_spec: str = key_spec
        self._key_arn: str = response.get("KeyId") or key_id

    # --- what KMS can do ---------------------------------------------------------------------------

    @property
    def key_arn(self) -> str:
        """The key's ARN, as GetPublicKey names it."""
        return self._key_arn

    @property
    def key_spec(self) -> str:
        return self._key_spec

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public_key.curve

    @property
    def key_size(self) -> int:
        return self._public_key.curve.key_size

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public_key

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        """Z = KMS DeriveSharedSecret(this key, peer), once the peer key is validated on this key's curve."""
        if not isinstance(algorithm, ec.ECDH):
            raise KmsKeyOperationError("a KMS key agreement key does ECDH only (ec.ECDH())")
        if not isinstance(peer_public_key, ec.EllipticCurvePublicKey):
            raise InvalidPublicKey("the peer public key must be an elliptic-curve public key")
        peer_der = load_peer_public_key_der(public_key_der(peer_public_key), self._key_spec)
        try:
            response = self._client.derive_shared_secret(
                KeyId=self._key_arn, KeyAgreementAlgorithm=KEY_AGREEMENT_ALGORITHM, PublicKey=peer_der
            )
        except (ClientError, BotoCoreError) as error:
            raise kms_error(error) from None
        shared_secret = response.get("SharedSecret")
        if not isinstance(shared_secret, bytes) or len(shared_secret) != KEY_SPECS[self._key_spec].field_size:
            raise KmsUnavailable("KMS returned no shared secret of the curve's size")
        return shared_secret

    # --- what it cannot ----------------------------------------------------------------------------

    def _refuse(self, operation: str) -> NoReturn:
        raise KmsKeyOperationError(
            f"{operation} is not possible with KMS key {self._key_arn}: its private key never leaves "
            "KMS, and a KEY_AGREEMENT key only does ECDH (exchange)"
        )

    def sign(self, data: Any, signature_algorithm: Any) -> bytes:
        self._refuse("signing")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._refuse("reading the private numbers")

    def private_bytes(self, encoding: Any, format: Any, encryption_algorithm: Any) -> bytes:
        self._refuse("serializing the private key")

    def __copy__(self) -> KmsPrivateKey:
        return self  # immutable: the key id, the public key and a thread-safe boto3 client

    def __deepcopy__(self, memo: dict) -> KmsPrivateKey:
        return self

    def __getstate__(self) -> NoReturn:
        self._refuse("pickling")

    def __repr__(self) -> str:
        return f"KmsPrivateKey({self._key_arn!r}, {self._key_spec})"
