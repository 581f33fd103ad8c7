"""Access log lines: the service's JSON line per request, and uvicorn's line anonymised.

The JSON lines (`territoire.access`) never hold the client's address, the raw path nor the query.
`configure_access_log` gives that logger a `JsonLines` handler on stderr; while it is the
logger's only way out (no other handler, no filter, INFO enabled), `write` puts a request's line
on the stream directly, one `os.write` per line: the same line as through logging, without a
LogRecord, the caller's frame looked up, a formatter and a lock per request (~10 µs). A line is
never held in a buffer: a worker killed keeps every line of the requests it answered, and lines
of several workers sharing stderr never mix (a write of one line to a pipe is atomic). With
other handlers (tests, a deployment's own logging configuration), lines go through logging.

uvicorn logs each request as (client address, method, path, HTTP version, status): the filter
blanks the address and redacts the token of a private status link before any handler or
formatter sees the record, so it holds whatever uvicorn's logging configuration is.
"""

import logging
import os
import re
import sys
import time
from typing import Any, TextIO

import orjson

ACCESS_LOGGER = "territoire.access"
_PRIVATE_PATH = re.compile(r"(/v1/proposals/status/)[^?\s]*")

access_logger = logging.getLogger(ACCESS_LOGGER)


class AnonymousAccess(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _, method, path, version, status = args
            record.args = ("-", method, _PRIVATE_PATH.sub(r"\1…", str(path)), version, status)
        return True


def anonymize_access_log() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AnonymousAccess) for f in logger.filters):
        logger.addFilter(AnonymousAccess())


class _Clock:
    """`2026-12-07T18:05:01.234Z` for a time in seconds; the part up to the second is kept."""

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def __call__(self, moment: float) -> str:
        second = int(moment)
        if second != self.second:
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        return f"{self.prefix}.{int((moment - second) * 1000):03d}Z"


def json_line(moment: float, level: str, logger: str, message: str, fields: Any) -> bytes:
    head = {"time": _clock(moment), "level": level, "logger": logger, "message": message}
    return orjson.dumps({**head, **fields}) + b"\n"


_clock = _Clock()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the record's fields (`extra`), its time, level and message."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        level = record.levelname.lower()
        line = json_line(record.created, level, record.name, record.getMessage(), fields)
        return line[:-1].decode()


class JsonLines(logging.StreamHandler[TextIO]):
    """A stream handler of JSON lines that can also write a line given its fields."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.setFormatter(JsonFormatter())
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a stream without a file (a capture)
            self.fd = None

    def write(self, message: str, fields: dict[str, Any]) -> None:
        line = json_line(time.time(), "info", ACCESS_LOGGER, message, fields)
        try:
            if self.fd is None:
                self.stream.write(line.decode())
                self.stream.flush()
                return
            while line:  # a short write (a signal, a full pipe): the rest follows
                line = line[os.write(self.fd, line) :]
        except OSError:  # as logging does, a line that cannot be written never fails a request
            pass


def configure_access_log() -> None:
    """Send territoire.access to stderr as JSON lines, once, whatever uvicorn's logging is."""
    if not any(isinstance(handler, JsonLines) for handler in access_logger.handlers):
        access_logger.addHandler(JsonLines(sys.stderr))
        access_logger.setLevel(logging.INFO)
        access_logger.propagate = False


def direct_handler() -> JsonLines | None:
    """The handler to write to directly, when it is the access logger's only way out."""
    handlers = access_logger.handlers
    if len(handlers) != 1 or access_logger.filters or access_logger.disabled:
        return None
    handler = handlers[0]
    if type(handler) is not JsonLines or handler.filters or handler.level > logging.INFO:
        return None
    return handler if access_logger.isEnabledFor(logging.INFO) else None


def write(message: str, fields: dict[str, Any]) -> None:
    """Log one request's line (`fields`: request id, method, route, status, duration, bytes)."""
    handler = direct_handler()
    if handler is not None:
        handler.write(message, fields)
    else:
        access_logger.info(message, extra={"fields": fields})
