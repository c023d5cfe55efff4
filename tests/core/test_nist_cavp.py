"""NIST CAVP: the ECC CDH primitive and the KAS ECC validity test with the one-step (Concat) KDF."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.errors import InvalidPublicKey
from kmsecdh.kdf import derive_key
from kmsecdh.keys import curve_for, ecdh_shared_secret, load_peer_public_key
from tests.core.vectors import (
    CAVP_CURVE_KEY_SPECS,
    NIST_CDH,
    NIST_KAS_KDF_CONCAT,
    CavpRecord,
    cavp_header,
    cavp_lines,
    cavp_records,
    sec1_uncompressed,
)

CDH_CASES = [
    record for record in cavp_records(cavp_lines(NIST_CDH)) if record.section in CAVP_CURVE_KEY_SPECS
]

KAS_LINES = cavp_lines(NIST_KAS_KDF_CONCAT)
# Parameter set (EC, ED, EE) -> {"Curve selected": "P-256", "HMAC Tag length(in bits)": "64", ...}
KAS_PARAMETER_SETS = cavp_header(KAS_LINES)
KAS_CASES = [
    record
    for record in cavp_records(KAS_LINES)
    if KAS_PARAMETER_SETS[record.section.split(" - ")[0]]["Curve selected"] in CAVP_CURVE_KEY_SPECS
]
# SP 800-56A's key-confirmation-style tag of the KAS validity files (see the vectors README).
KAS_MAC_PREFIX = b"Standard Test Message"


def _cdh_id(record: CavpRecord) -> str:
    return f"{record.section}-{record['COUNT']}"


def _kas_id(record: CavpRecord) -> str:
    return f"{record.section.replace(' ', '')}-{record['COUNT']}-{record['Result'][0]}"


def test_cdh_case_counts(vectors_dir: Path) -> None:
    records = list(cavp_records(cavp_lines(NIST_CDH, vectors_dir)))
    sections = Counter(record.section for record in records)
    assert {curve: sections[curve] for curve in CAVP_CURVE_KEY_SPECS} == {
        "P-256": 25,
        "P-384": 25,
        "P-521": 25,
    }
    assert len(CDH_CASES) == 75


@pytest.mark.parametrize("record", CDH_CASES, ids=_cdh_id)
def test_cdh_primitive(record: CavpRecord) -> None:
    spec = curve_for(CAVP_CURVE_KEY_SPECS[record.section])
    peer = load_peer_public_key(
        sec1_uncompressed(record["QCAVSx"], record["QCAVSy"], spec.field_size), spec.name
    )
    private_key = ec.derive_private_key(int(record["dIUT"], 16), spec.curve())
    ours = private_key.public_key().public_numbers()
    assert (ours.x, ours.y) == (int(record["QIUTx"], 16), int(record["QIUTy"], 16))
    assert hmac.compare_digest(ecdh_shared_secret(private_key, peer), record.bytes("ZIUT"))


def test_kas_case_counts(vectors_dir: Path) -> None:
    records = list(cavp_records(cavp_lines(NIST_KAS_KDF_CONCAT, vectors_dir)))
    header = cavp_header(cavp_lines(NIST_KAS_KDF_CONCAT, vectors_dir))
    per_curve = Counter(header[record.section.split(" - ")[0]]["Curve selected"] for record in records)
    assert {curve: per_curve[curve] for curve in CAVP_CURVE_KEY_SPECS} == {
        "P-256": 90,
        "P-384": 60,
        "P-521": 30,
    }
    assert Counter(record["Result"][0] for record in KAS_CASES) == {"P": 60, "F": 120}


# The check each Result code must trip ("pass" for the P codes), from the vectors README.
KAS_STAGE_BY_CODE = {
    0: "pass",
    13: "pass",
    14: "pass",
    1: "peer public key",
    2: "peer public key",
    5: "own key pair",
    6: "own key pair",
    7: "own key pair",
    8: "shared secret",
    9: "derived key",
    10: "derived key",
    11: "tag",
    12: "tag",
}


def _kas_failing_stage(record: CavpRecord) -> str:
    """Run the initiator's side of the case; the first check that fails, or "pass"."""
    parameter_set, hash_name = record.section.split(" - ")
    parameters = KAS_PARAMETER_SETS[parameter_set]
    spec = curve_for(CAVP_CURVE_KEY_SPECS[parameters["Curve selected"]])
    try:
        peer = load_peer_public_key(
            sec1_uncompressed(record["QsCAVSx"], record["QsCAVSy"], spec.field_size), spec.name
        )
    except InvalidPublicKey:
        return "peer public key"
    try:
        # Our static public key gets the same validation (codes 5 and 6) and must match our d (code 7).
        ours = load_peer_public_key(
            sec1_uncompressed(record["QsIUTx"], record["QsIUTy"], spec.field_size), spec.name
        )
        private_key = ec.derive_private_key(int(record["dsIUT"], 16), spec.curve())
    except (InvalidPublicKey, ValueError):  # ValueError: code 7 can push d out of [1, n-1]
        return "own key pair"
    if private_key.public_key().public_numbers() != ours.public_numbers():
        return "own key pair"
    shared_secret = ecdh_shared_secret(private_key, peer)
    if not hmac.compare_digest(shared_secret, record.bytes("Z")):
        return "shared secret"
    expected_dkm = record.bytes("DKM")
    dkm = derive_key(
        shared_secret,
        algorithm=f"onestep-{hash_name.lower()}",
        length=len(expected_dkm),
        fixed_info=record.bytes("OI"),
    )
    if not hmac.compare_digest(dkm, expected_dkm):
        return "derived key"
    # MacData is rebuilt from the nonce rather than read: code 11 cases carry a tampered MacData.
    tag_length = int(parameters["HMAC Tag length(in bits)"]) // 8
    tag = hmac.new(dkm, KAS_MAC_PREFIX + record.bytes("Nonce"), hashlib.sha512).digest()[:tag_length]
    return "pass" if hmac.compare_digest(tag, record.bytes("CAVSTag")) else "tag"


@pytest.mark.parametrize("record", KAS_CASES, ids=_kas_id)
def test_kas_validity_with_one_step_kdf(record: CavpRecord) -> None:
    result = re.fullmatch(r"([PF]) \((\d+) - .*\)", record["Result"])
    assert result is not None, record["Result"]
    expected_stage = KAS_STAGE_BY_CODE[int(result.group(2))]
    assert (expected_stage == "pass") is (result.group(1) == "P")
    assert _kas_failing_stage(record) == expected_stage, record["Result"]
