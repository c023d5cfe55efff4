"""Every Wycheproof P-256 key marked invalid is InvalidPublicKey at the handler, before any KMS call."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmsecdh.errors import InvalidPublicKey
from tests.core.vectors import WYCHEPROOF_ASN, WYCHEPROOF_ECPOINT, wycheproof_cases, wycheproof_document

from .support import b64

# Both files carry the peer key as hex: DER SubjectPublicKeyInfo (asn) or a raw SEC1 point (ecpoint).
# The contract takes either as base64 text.
FILES = {"asn": WYCHEPROOF_ASN, "ecpoint": WYCHEPROOF_ECPOINT}


def invalid_peer_keys(vectors_dir: Path, relative: str) -> dict[int, str]:
    cases = wycheproof_cases(wycheproof_document(relative, vectors_dir))
    return {case["tcId"]: b64(bytes.fromhex(case["public"])) for case in cases if case["result"] == "invalid"}


@pytest.mark.parametrize("encoding", FILES)
def test_each_invalid_key_is_rejected_before_kms(derive_handler, counted_kms, vectors_dir, encoding):
    peers = invalid_peer_keys(vectors_dir, FILES[encoding])
    assert peers, "no invalid cases found"
    accepted: list[int] = []
    for tc_id, peer in peers.items():
        try:
            derive_handler({"action": "derive", "peer_public_key": peer}, None)
        except InvalidPublicKey:
            continue
        accepted.append(tc_id)
    assert accepted == []
    assert counted_kms.calls == []


@pytest.mark.parametrize("encoding", FILES)
def test_invalid_keys_in_a_batch_fail_per_peer_before_kms(derive_handler, counted_kms, vectors_dir, encoding):
    peers = list(invalid_peer_keys(vectors_dir, FILES[encoding]).values())
    response = derive_handler({"action": "derive", "peer_public_keys": peers}, None)
    assert [entry["error"]["code"] for entry in response["results"]] == ["InvalidPublicKey"] * len(peers)
    assert counted_kms.calls == []
