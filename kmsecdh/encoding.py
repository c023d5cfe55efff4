"""Base64 as the derive function's contract writes it: the standard alphabet, padded, nothing else.

The one pair of helpers the function, the client and the command line use for every base64 field
(peer keys, FixedInfo, salt, derived keys, public keys), so a field is encoded and checked the same way
on both sides of the wire.
"""

from __future__ import annotations

import base64


def b64encode(data: bytes) -> str:
    """``data`` as base64 text (standard alphabet, padded)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | bytes) -> bytes:
    """The bytes of strict base64 ``text``: ValueError for any character outside the standard alphabet,
    missing padding or non-ASCII text (never a partial or empty result for bad input)."""
    data = text.encode("ascii") if isinstance(text, str) else text
    return base64.b64decode(data, validate=True)
