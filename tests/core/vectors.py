"""Readers for the third-party vector files in ``tests/vectors`` (formats and provenance in its README).

Parametrized tests need the cases at collection time, so these read from the same directory the
``vectors_dir`` fixture hands out (``tests.conftest.VECTORS_DIR``); a missing file fails collection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import VECTORS_DIR

WYCHEPROOF_ASN = "wycheproof/ecdh_secp256r1_test.json"
WYCHEPROOF_ECPOINT = "wycheproof/ecdh_secp256r1_ecpoint_test.json"
NIST_CDH = "nist/KAS_ECC_CDH_PrimitiveTest.txt"
NIST_KAS_KDF_CONCAT = "nist/KASValidityTest_ECCStaticUnified_KDFConcat_NOKC_init.fax"
RFC5869_SHA256 = "nist/rfc-5869-HKDF-SHA256.txt"
HKDF_GENERATED = "nist/hkdf-generated.txt"

# CAVP names the curves P-256 ...; KMS names them by key spec.
CAVP_CURVE_KEY_SPECS = {"P-256": "ECC_NIST_P256", "P-384": "ECC_NIST_P384", "P-521": "ECC_NIST_P521"}


@dataclass(frozen=True)
class CavpRecord:
    """One ``COUNT = ...`` record of a CAVP file and the ``[section]`` it sits in."""

    section: str
    fields: dict[str, str] = field(hash=False)

    def __getitem__(self, name: str) -> str:
        return self.fields[name]

    def bytes(self, name: str) -> bytes:
        return bytes.fromhex(self.fields[name])


def wycheproof_document(relative: str, directory: Path = VECTORS_DIR) -> dict:
    return json.loads((directory / relative).read_text())


def wycheproof_cases(document: dict) -> list[dict]:
    return [test for group in document["testGroups"] for test in group["tests"]]


def cavp_lines(relative: str, directory: Path = VECTORS_DIR) -> list[str]:
    return (directory / relative).read_text().splitlines()


def cavp_records(lines: list[str]) -> Iterator[CavpRecord]:
    """Records in file order; a record starts at ``COUNT`` and takes every ``name = value`` after it."""
    section = ""
    fields: dict[str, str] | None = None
    for line in (raw.strip() for raw in lines):
        if line.startswith("[") and line.endswith("]"):
            if fields is not None:
                yield CavpRecord(section, fields)
                fields = None
            section = line[1:-1].strip()
        elif "=" in line and not line.startswith("#"):
            name, value = (part.strip() for part in line.split("=", 1))
            if name == "COUNT":
                if fields is not None:
                    yield CavpRecord(section, fields)
                fields = {}
            if fields is not None:
                fields[name] = value
    if fields is not None:
        yield CavpRecord(section, fields)


def cavp_header(lines: list[str]) -> dict[str, dict[str, str]]:
    """KAS header: ``[EC]`` followed by ``[Curve selected:  P-256]``-style lines, per parameter set."""
    header: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in (raw.strip() for raw in lines):
        if line.startswith("COUNT"):
            break
        if not line.startswith("["):
            continue
        body = line.strip("[]")
        if ":" in body and current is not None:
            name, value = (part.strip() for part in body.split(":", 1))
            current[name] = value
        elif " - " not in body:
            current = header.setdefault(body, {})
    return header


def sec1_uncompressed(x_hex: str, y_hex: str, field_size: int) -> bytes:
    """``04||X||Y``, each coordinate as exactly field-size bytes (CAVP pads P-521 values to 68 bytes).

    A coordinate too large for the field keeps its minimal length, so the point stays malformed.
    """

    def coordinate(value: str) -> bytes:
        number = int(value, 16)
        return number.to_bytes(max(field_size, (number.bit_length() + 7) // 8), "big")

    return b"\x04" + coordinate(x_hex) + coordinate(y_hex)
