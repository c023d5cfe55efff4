"""Wycheproof ECDH P-256 vectors: DER SubjectPublicKeyInfo (``asn``) and raw SEC1 points (``ecpoint``)."""

from __future__ import annotations

import base64
import hmac
from collections import Counter
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.errors import InvalidPublicKey
from kmsecdh.keys import ecdh_shared_secret, load_peer_public_key
from tests.core.vectors import WYCHEPROOF_ASN, WYCHEPROOF_ECPOINT, wycheproof_cases, wycheproof_document

KEY_SPEC = "ECC_NIST_P256"
ASN_CASES = wycheproof_cases(wycheproof_document(WYCHEPROOF_ASN))
ECPOINT_CASES = wycheproof_cases(wycheproof_document(WYCHEPROOF_ECPOINT))

# From the vectors README: (total, valid, invalid, acceptable) per file.
EXPECTED_COUNTS = {
    WYCHEPROOF_ASN: (612, 330, 52, 230),
    WYCHEPROOF_ECPOINT: (355, 330, 24, 1),
}


def _case_id(case: dict) -> str:
    return f"tc{case['tcId']}-{case['result']}"


def _shared_secret(case: dict, public_key: bytes | str) -> bytes:
    private_key = ec.derive_private_key(int(case["private"], 16), ec.SECP256R1())
    return ecdh_shared_secret(private_key, load_peer_public_key(public_key, KEY_SPEC))


def _check_case(case: dict) -> bool:
    """Whether the case's public key was accepted; asserts the outcome its ``result`` allows."""
    public_key = bytes.fromhex(case["public"])
    if case["result"] == "invalid":
        with pytest.raises(InvalidPublicKey):
            _shared_secret(case, public_key)
        return False
    try:
        shared_secret = _shared_secret(case, public_key)
    except InvalidPublicKey:
        assert case["result"] == "acceptable", case["comment"]
        return False
    assert hmac.compare_digest(shared_secret, bytes.fromhex(case["shared"])), case["comment"]
    return True


@pytest.mark.parametrize("relative", sorted(EXPECTED_COUNTS))
def test_case_counts_match_the_vectors_readme(vectors_dir: Path, relative: str) -> None:
    document = wycheproof_document(relative, vectors_dir)
    cases = wycheproof_cases(document)
    results = Counter(case["result"] for case in cases)
    total, valid, invalid, acceptable = EXPECTED_COUNTS[relative]
    assert len(cases) == document["numberOfTests"] == total
    assert (results["valid"], results["invalid"], results["acceptable"]) == (valid, invalid, acceptable)


@pytest.mark.parametrize("case", ASN_CASES, ids=_case_id)
def test_der_subject_public_key_info(case: dict) -> None:
    _check_case(case)


@pytest.mark.parametrize("case", ECPOINT_CASES, ids=_case_id)
def test_raw_sec1_point(case: dict) -> None:
    _check_case(case)


@pytest.mark.parametrize("case", [case for case in ASN_CASES if case["result"] == "valid"], ids=_case_id)
def test_valid_der_also_loads_as_base64_text_and_pem(case: dict) -> None:
    der = bytes.fromhex(case["public"])
    body = base64.b64encode(der).decode()
    pem = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    pem += "\n-----END PUBLIC KEY-----\n"
    expected = bytes.fromhex(case["shared"])
    assert hmac.compare_digest(_shared_secret(case, body), expected)
    assert hmac.compare_digest(_shared_secret(case, pem), expected)
    assert hmac.compare_digest(_shared_secret(case, pem.encode()), expected)


def test_only_compressed_points_among_acceptable_cases_are_accepted() -> None:
    """Our policy for ``acceptable``: compressed points are fine, lax DER and explicit parameters are not."""
    for case in (*ASN_CASES, *ECPOINT_CASES):
        if case["result"] != "acceptable":
            continue
        compressed = bool({"CompressedPoint", "CompressedPublic"} & set(case["flags"]))
        assert _check_case(case) is compressed, (case["tcId"], case["flags"])
