"""The ``kbkdf-ctr-hmac-*`` KDF ids: SP 800-108 counter mode with HMAC, proven on NIST CAVP and OpenSSL.

The CAVP counter-mode file treats the fixed input data as opaque bytes; the sections with the counter
before it (``CTRLOCATION=BEFORE_FIXED``) and a 32-bit counter (``RLEN=32_BITS``) are exactly how these
ids use FixedInfo, so every such case of HMAC-SHA256/384/512 runs through ``derive_key`` itself with
KI as Z and FixedInputData as FixedInfo. (OpenSSL against these ids on every curve:
``tests/core/test_openssl_reference.py`` and, through the local KMS endpoint,
``tests/lambda/test_local_endpoint_derive.py``.)
"""

from __future__ import annotations

import hmac
import random
from collections import Counter

import pytest
from cryptography.hazmat.primitives import hashes

from devtools.openssl import OpenSsl
from kmsecdh.kdf import ALGORITHMS, KBKDF_COUNTER_HMAC, derive_key, fixed_info
from tests.conftest import VECTORS_DIR

KBKDF_FILE = "nist/nist-800-108-KBKDF-CTR-HMAC-SHA2-counter-before-32bit.txt"
KDF_IDS = {
    "HMAC_SHA256": "kbkdf-ctr-hmac-sha256",
    "HMAC_SHA384": "kbkdf-ctr-hmac-sha384",
    "HMAC_SHA512": "kbkdf-ctr-hmac-sha512",
}


def _cases() -> list:
    """Every HMAC-SHA2 (256/384/512) case with a 32-bit counter before the fixed input data."""
    cases, section, record = [], {}, None
    lines = (VECTORS_DIR / KBKDF_FILE).read_text().splitlines()
    for line in (*lines, "COUNT=end"):
        line = line.strip()
        if line.startswith("[") and "=" in line:
            name, _, value = line[1:-1].partition("=")
            section[name] = value
            continue
        name, _, value = (part.strip() for part in line.partition("="))
        if name == "COUNT":
            if record is not None and record["section"] in KDF_IDS_SELECTED:
                cases.append(pytest.param(record, id=f"{record['section'][0]}-{record['COUNT']}"))
            key = (section.get("PRF"), section.get("CTRLOCATION"), section.get("RLEN"))
            record = {"section": key, "COUNT": value}
        elif record is not None and name in ("L", "KI", "FixedInputData", "KO"):
            record[name] = value
    return cases


KDF_IDS_SELECTED = {(prf, "BEFORE_FIXED", "32_BITS") for prf in KDF_IDS}
CASES = _cases()


def test_the_selected_sections_are_all_there() -> None:
    # 40 cases per PRF (L = 128, 160, 256, 320 bits, 10 each): a shortened file must not pass quietly.
    assert Counter(case.values[0]["section"][0] for case in CASES) == dict.fromkeys(KDF_IDS, 40)


@pytest.mark.parametrize("record", CASES)
def test_cavp_counter_mode_vector(record: dict) -> None:
    length_bits = int(record["L"])
    assert length_bits % 8 == 0
    derived = derive_key(
        bytes.fromhex(record["KI"]),
        algorithm=KDF_IDS[record["section"][0]],
        length=length_bits // 8,
        fixed_info=bytes.fromhex(record["FixedInputData"]),
    )
    assert derived.hex() == record["KO"]


def test_ids_and_construction() -> None:
    kbkdf = sorted(name for name, kdf in ALGORITHMS.items() if kdf.construction == KBKDF_COUNTER_HMAC)
    assert kbkdf == ["kbkdf-ctr-hmac-sha256", "kbkdf-ctr-hmac-sha384", "kbkdf-ctr-hmac-sha512"]
    assert not any(ALGORITHMS[name].takes_salt for name in kbkdf)


def test_first_block_is_hmac_of_counter_then_fixed_info() -> None:
    """The documented layout, spelled out with the standard library's HMAC: [1]_32 || FixedInfo."""
    z, info = bytes(range(32)), fixed_info(b"A256GCM", b"alice", b"bob")
    expected = hmac.new(z, (1).to_bytes(4, "big") + info, "sha256").digest()
    assert derive_key(z, algorithm="kbkdf-ctr-hmac-sha256", length=32, fixed_info=info) == expected
    two_blocks = expected + hmac.new(z, (2).to_bytes(4, "big") + info, "sha256").digest()
    assert derive_key(z, algorithm="kbkdf-ctr-hmac-sha256", length=64, fixed_info=info) == two_blocks
    assert hashes.SHA256.digest_size == 32


@pytest.mark.parametrize("algorithm", sorted(KDF_IDS.values()))
def test_cavp_cases_through_openssl_too(openssl: OpenSsl, algorithm: str) -> None:
    """OpenSSL's KBKDF with use-l:0 and use-separator:0 on a few CAVP cases: the same command line
    docs/contract.md gives for these ids."""
    selected = [case.values[0] for case in CASES if KDF_IDS[case.values[0]["section"][0]] == algorithm]
    for record in random.Random(algorithm).sample(selected, 4):
        derived = openssl.kdf(
            bytes.fromhex(record["KI"]),
            algorithm=algorithm,
            length=int(record["L"]) // 8,
            fixed_info=bytes.fromhex(record["FixedInputData"]),
        )
        assert derived.hex() == record["KO"]
