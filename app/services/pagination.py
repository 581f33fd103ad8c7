"""Opaque keyset cursors: the client hands back what the previous page gave it."""

import base64
import binascii
import re

from app.errors import InvalidParameterError

_VERSION = "c1"
_CODE = re.compile(r"^[1-9][0-9]{0,5}(\.[1-9][0-9]{0,5}){0,3}$")


def encode_cursor(code: str) -> str:
    raw = f"{_VERSION}:{code}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[int]:
    """The code path to resume after; a cursor we did not issue is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, _, code = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        version, code = "", ""
    if version != _VERSION or not _CODE.match(code):
        raise InvalidParameterError(
            "query",
            "cursor",
            "not a cursor this service issued; use next_cursor from a previous page",
        )
    return [int(part) for part in code.split(".")]
