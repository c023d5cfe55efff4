"""Reading inputs and writing outputs atomically, with the right permissions from the start.

Every output goes to a temporary file in the destination's directory (created 0600 by
``tempfile.mkstemp``) and takes its final name only once complete, so a failed command leaves no
partial file, and a private key or plaintext is never readable by others, not even briefly.
Existing files are kept unless the caller asked to overwrite them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kmsecdh.cli.errors import CommandError

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
MAX_KEY_FILE_SIZE = 64 * 1024
MAX_MESSAGE_SIZE = 256 * 1024 * 1024
"""HPKE and JWE messages are single-shot: the whole message is held in memory."""


def read_key_file(path: Path, what: str) -> bytes:
    """The bytes of a small key file; refuses anything larger than a key file can be."""
    with open(path, "rb") as file:
        data = file.read(MAX_KEY_FILE_SIZE + 1)
    if len(data) > MAX_KEY_FILE_SIZE:
        raise CommandError(f"{what} {path} is larger than {MAX_KEY_FILE_SIZE} bytes: not a key file")
    return data


def read_message(path: Path) -> bytes:
    """The whole of a single-shot message file (HPKE, JWE); refuses one larger than MAX_MESSAGE_SIZE."""
    with open(path, "rb") as file:
        data = file.read(MAX_MESSAGE_SIZE + 1)
    if len(data) > MAX_MESSAGE_SIZE:
        raise CommandError(f"{path} is larger than {MAX_MESSAGE_SIZE} bytes (single-shot: held in memory)")
    return data


def refuse_existing(paths: list[Path], force: bool) -> None:
    """CommandError naming the first path that exists, unless ``force``."""
    if force:
        return
    for path in paths:
        if path.exists():
            raise CommandError(f"{path} exists; use --force to overwrite it")


@contextlib.contextmanager
def atomic_output(path: Path, *, force: bool, mode: int = PRIVATE_MODE) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` only if the block completes without error."""
    refuse_existing([path], force)
    directory = path.parent if str(path.parent) else Path()
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode != PRIVATE_MODE:
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        if force:
            os.replace(temporary, path)
        else:
            # link() fails if ``path`` appeared meanwhile: never clobber a file we were not told to.
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise CommandError(f"{path} exists; use --force to overwrite it") from None
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_file(path: Path, data: bytes, *, force: bool, mode: int = PRIVATE_MODE) -> None:
    with atomic_output(path, force=force, mode=mode) as file:
        file.write(data)


def write_derived_key(derived: bytes, args: argparse.Namespace) -> None:
    """To a 0600 file as raw bytes (``--out``), or as hex on stdout: the caller asked for the key itself."""
    if args.out:
        write_file(args.out, derived, force=args.force)
        print(f"{len(derived)}-byte key ({args.kdf_parameters.algorithm}) written to {args.out}")
    else:
        print(derived.hex())
