"""The derive function's service: one invocation event served end to end, batches, and the log record.

``handle_invocation`` serves one invocation event end to end and raises only DeriveError subclasses;
the Lambda entry point and the command line both call it. Order of work, so that nothing reaches KMS
unless the request is sound: parse the event (``kmsecdh.contract``), read the configuration
(``kmsecdh.configuration``), resolve the key among the configured ones, load and validate every peer key
on that key's curve, then call KMS (``kmsecdh.kms_calls``, which holds the KMS client's limits).

* a batch runs at most BATCH_CONCURRENCY KMS calls at once (the KMS client's connection pool matches it);
* a batch starts a peer's KMS call only while the Lambda context says at least
  BATCH_TIME_RESERVE_SECONDS remain, time for that call's worst case and the reply: a slow KMS
  then costs the peers not yet started (each reported as KmsUnavailable, to retry) instead of a
  function timeout that loses every result of the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kmsecdh import kms_calls
from kmsecdh.configuration import ConfiguredKey, load_configuration
from kmsecdh.contract import (
    ALLOW_RAW_SECRET_VARIABLE,
    DeriveRequest,
    Output,
    PublicKeyRequest,
    parse_request,
)
from kmsecdh.encoding import b64encode
from kmsecdh.errors import DeriveError, InternalError, InvalidRequest, KmsUnavailable
from kmsecdh.jwk import public_jwk
from kmsecdh.kdf import derive_key
from kmsecdh.keys import load_peer_public_key_der, public_key_der, public_key_pem
from kmsecdh.kms_calls import (
    BATCH_CONCURRENCY,
    KMS_CONNECT_TIMEOUT_SECONDS,
    KMS_MAX_ATTEMPTS,
    KMS_MAX_BACKOFF_SECONDS,
    KMS_READ_TIMEOUT_SECONDS,
)
from kmsecdh.log import NO_KDF, InvocationRecord

BATCH_TIME_RESERVE_SECONDS = (
    KMS_MAX_ATTEMPTS * (KMS_CONNECT_TIMEOUT_SECONDS + KMS_READ_TIMEOUT_SECONDS) + KMS_MAX_BACKOFF_SECONDS + 1
)
"""The worst case of one KMS call (3 x 4 s of timeouts and 3 s of backoff) and a second to reply."""


def _public_key_response(key: ConfiguredKey, record: InvocationRecord) -> dict[str, Any]:
    public_key = kms_calls.public_key(key, record)
    return {
        "key_id": key.arn,
        "key_spec": key.key_spec,
        "public_key_der": b64encode(public_key_der(public_key)),
        "public_key_pem": public_key_pem(public_key),
        "jwk": public_jwk(public_key),
    }


def _derive_for_peer(
    key: ConfiguredKey, request: DeriveRequest, peer_public_key_der: bytes, record: InvocationRecord
) -> dict:
    shared_secret = kms_calls.derive_shared_secret(key, peer_public_key_der, record)
    if request.kdf is None:
        return {Output.SHARED_SECRET.value: b64encode(shared_secret)}
    derived = derive_key(
        shared_secret,
        algorithm=request.kdf.algorithm,
        length=request.kdf.length,
        fixed_info=request.kdf.fixed_info,
        salt=request.kdf.salt,
    )
    return {Output.DERIVED_KEY.value: b64encode(derived)}


def _error_entry(error: DeriveError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": str(error)}}


def _time_running_out(context: object) -> Callable[[], bool]:
    """Whether too little of the invocation's time is left to start another KMS call (never, without
    a Lambda context)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining_ms):
        return lambda: False
    return lambda: remaining_ms() < BATCH_TIME_RESERVE_SECONDS * 1000


_NOT_ATTEMPTED = (
    "not attempted: too little of the invocation's time was left for another KMS call; retry this peer"
)


def _derive_batch(
    key: ConfiguredKey, request: DeriveRequest, record: InvocationRecord, time_running_out: Callable[[], bool]
) -> list[dict]:
    """One result per peer in request order; a bad peer key or a failed KMS call fails only its entry."""
    peers: list[bytes | DeriveError] = []
    for text in request.peer_public_keys:
        try:
            peers.append(load_peer_public_key_der(text, key.key_spec))
        except DeriveError as error:
            peers.append(error)
    record.served_peers([peer if isinstance(peer, bytes) else None for peer in peers])

    def serve(peer: bytes | DeriveError) -> dict[str, Any]:
        if isinstance(peer, DeriveError):
            return _error_entry(peer)
        if time_running_out():
            return _error_entry(KmsUnavailable(_NOT_ATTEMPTED))
        try:
            return _derive_for_peer(key, request, peer, record)
        except DeriveError as error:
            return _error_entry(error)

    with ThreadPoolExecutor(max_workers=min(BATCH_CONCURRENCY, len(peers))) as pool:
        results = list(pool.map(serve, peers))
    for result in results:
        if "error" in result:
            record.peer_failed(result["error"]["code"])
    return results


def _serve(event: object, context: object, record: InvocationRecord) -> dict[str, Any]:
    request = parse_request(event)
    record.action = "public_key" if isinstance(request, PublicKeyRequest) else "derive"
    configuration = load_configuration()
    key = configuration.resolve(request.key_id, functools.partial(kms_calls.key_kid, record=record))
    record.key_arn, record.key_spec = key.arn, key.key_spec
    if isinstance(request, PublicKeyRequest):
        return _public_key_response(key, record)
    if request.output is Output.SHARED_SECRET and not configuration.allow_raw_secret:
        raise InvalidRequest(
            f"output 'shared_secret' is disabled on this function ({ALLOW_RAW_SECRET_VARIABLE} is not true)"
        )
    record.peers = len(request.peer_public_keys)
    record.kdf = request.kdf.algorithm if request.kdf is not None else NO_KDF
    response: dict[str, Any] = {"key_id": key.arn, "key_spec": key.key_spec}
    if request.kdf is not None:
        record.used_fixed_info(request.kdf.fixed_info)
        response["kdf"] = {"algorithm": request.kdf.algorithm, "length": request.kdf.length}
    if request.batch:
        response["results"] = _derive_batch(key, request, record, _time_running_out(context))
    else:
        peer = load_peer_public_key_der(request.peer_public_keys[0], key.key_spec)
        record.served_peers([peer])
        response.update(_derive_for_peer(key, request, peer, record))
    return response


def handle_invocation(event: object, context: object | None = None) -> dict[str, Any]:
    """Serve one invocation event; raises only DeriveError subclasses and logs one JSON line.

    ``context`` is the Lambda context (its ``aws_request_id`` is logged, its remaining time bounds a
    batch) or None outside Lambda.
    """
    request_id = getattr(context, "aws_request_id", None)
    with InvocationRecord(request_id if isinstance(request_id, str) else None) as record:
        try:
            return _serve(event, context, record)
        except DeriveError:
            raise
        except Exception as error:
            # A bug, not a caller or KMS problem: the contract allows only DeriveError codes, and
            # only the exception's class is logged because its message could hold request data.
            record.internal_error = type(error).__name__
            raise InternalError("internal error in the derive function; no key was derived") from None
