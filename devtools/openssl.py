"""The OpenSSL command line as the reference peer: key generation, ECDH and SP 800-56C KDFs.

The peer in a key agreement typically holds an ordinary EC key made with OpenSSL; the demo and the
interoperability tests run exactly the commands such a peer would, and show them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kmsecdh.kdf import KBKDF_COUNTER_HMAC, ONE_STEP, get_algorithm

OPENSSL_CURVE_NAMES = {
    "ECC_NIST_P256": "prime256v1",
    "ECC_NIST_P384": "secp384r1",
    "ECC_NIST_P521": "secp521r1",
}


class OpenSslError(RuntimeError):
    """An openssl command failed."""


@dataclass(frozen=True)
class OpenSsl:
    """Runs ``openssl`` subcommands; ``executable`` may point at another build."""

    executable: str = "openssl"

    def _run(self, *args: str) -> bytes:
        command = [self.executable, *args]
        result = subprocess.run(command, capture_output=True, check=False)
        if result.returncode != 0:
            raise OpenSslError(
                f"{shlex.join(command[:2])} failed: {result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout

    def genkey(self, key_spec: str, private_key: Path) -> None:
        """Write a new private key on the curve of ``key_spec`` as PEM (``openssl ecparam -genkey``)."""
        # Created 0600 before openssl writes into it, so the key is never readable by others.
        os.close(os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        private_key.chmod(0o600)
        self._run(*self.genkey_args(key_spec, private_key))

    @staticmethod
    def genkey_args(key_spec: str, private_key: Path) -> list[str]:
        return [
            "ecparam",
            "-name",
            OPENSSL_CURVE_NAMES[key_spec],
            "-genkey",
            "-noout",
            "-out",
            str(private_key),
        ]

    def public_key(self, private_key: Path, public_key: Path, *, der: bool = False) -> None:
        """Write the public key of ``private_key`` as SubjectPublicKeyInfo (``openssl ec -pubout``)."""
        self._run(*self.public_key_args(private_key, public_key, der=der))

    @staticmethod
    def public_key_args(private_key: Path, public_key: Path, *, der: bool = False) -> list[str]:
        return [
            "ec",
            "-in",
            str(private_key),
            "-pubout",
            "-outform",
            "DER" if der else "PEM",
            "-out",
            str(public_key),
        ]

    def derive(self, private_key: Path, peer_public_key: Path) -> bytes:
        """The raw ECDH shared secret Z (``openssl pkeyutl -derive``)."""
        return self._run(*self.derive_args(private_key, peer_public_key))

    @staticmethod
    def derive_args(private_key: Path, peer_public_key: Path) -> list[str]:
        keyform = ["-peerform", "DER"] if peer_public_key.suffix == ".der" else []
        return ["pkeyutl", "-derive", "-inkey", str(private_key), "-peerkey", str(peer_public_key), *keyform]

    def kdf(
        self,
        shared_secret: bytes,
        *,
        algorithm: str,
        length: int,
        fixed_info: bytes = b"",
        salt: bytes | None = None,
    ) -> bytes:
        """The key ``kmsecdh.kdf.derive_key`` derives, computed by ``openssl kdf`` (SSKDF, HKDF or KBKDF)."""
        return self._run(
            *self.kdf_args(
                shared_secret.hex(), algorithm=algorithm, length=length, fixed_info=fixed_info, salt=salt
            )
        )

    @staticmethod
    def kdf_args(
        shared_secret_hex: str,
        *,
        algorithm: str,
        length: int,
        fixed_info: bytes = b"",
        salt: bytes | None = None,
    ) -> list[str]:
        kdf = get_algorithm(algorithm)
        args = [
            "kdf",
            "-binary",
            "-keylen",
            str(length),
            "-kdfopt",
            f"digest:{kdf.hash_name}",
            "-kdfopt",
            f"hexkey:{shared_secret_hex}",
        ]
        if kdf.construction == KBKDF_COUNTER_HMAC:
            # SP 800-108 counter mode (OpenSSL's default), HMAC; FixedInfo is the whole fixed input
            # data: passed as the Label, without the 0x00 separator and the [L] field OpenSSL adds
            # by default.
            args += ["-kdfopt", "mac:HMAC", "-kdfopt", "use-l:0", "-kdfopt", "use-separator:0"]
            if fixed_info:
                args += ["-kdfopt", f"hexsalt:{fixed_info.hex()}"]
            args.append("KBKDF")
            return args
        if fixed_info:
            args += ["-kdfopt", f"hexinfo:{fixed_info.hex()}"]
        if salt:
            args += ["-kdfopt", f"hexsalt:{salt.hex()}"]
        args.append("SSKDF" if kdf.construction == ONE_STEP else "HKDF")
        return args
