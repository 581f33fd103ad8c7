"""Opaque keyset cursors: the client hands back what the previous page gave it."""

import base64
import binascii
import re
from datetime import date

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


_INDICATOR_VERSION = "i1"
_INDICATOR_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_VALUE_VERSION = "v1"
_VALUE_KEY = re.compile(r"^(-infinity|[0-9]{4}-[0-9]{2}-[0-9]{2}):([1-9][0-9]{0,18})$")


def _pack(version: str, text: str) -> str:
    return base64.urlsafe_b64encode(f"{version}:{text}".encode()).decode().rstrip("=")


def _unpack(cursor: str, version: str) -> str | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found, _, text = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return text if found == version else None


def _not_ours() -> InvalidParameterError:
    return InvalidParameterError(
        "query", "cursor", "not a cursor this service issued; use next_cursor from a previous page"
    )


def encode_indicator_cursor(code: str) -> str:
    return _pack(_INDICATOR_VERSION, code)


def decode_indicator_cursor(cursor: str) -> str:
    code = _unpack(cursor, _INDICATOR_VERSION)
    if code is None or not _INDICATOR_CODE.match(code):
        raise _not_ours()
    return code


def encode_value_cursor(sort_date: date, value_id: int) -> str:
    day = "-infinity" if sort_date == date.min else sort_date.isoformat()
    return _pack(_VALUE_VERSION, f"{day}:{value_id}")


def decode_value_cursor(cursor: str) -> tuple[date, int]:
    """The (date, id) to resume after; undated values sort at -infinity (date.min here)."""
    text = _unpack(cursor, _VALUE_VERSION)
    match = _VALUE_KEY.match(text) if text is not None else None
    if match is None:
        raise _not_ours()
    try:
        day = date.min if match[1] == "-infinity" else date.fromisoformat(match[1])
    except ValueError:
        raise _not_ours() from None
    value_id = int(match[2])
    if value_id > 2**63 - 1:
        raise _not_ours()
    return day, value_id
