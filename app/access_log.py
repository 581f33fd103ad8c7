"""Access log lines without the client's address, nor the token of a private status link.

uvicorn logs each request as (client address, method, path, HTTP version, status): the filter
blanks the address and redacts the token before any handler or formatter sees the record, so
it holds whatever uvicorn's logging configuration is (command line, Dockerfile, tests).
"""

import logging
import re

_PRIVATE_PATH = re.compile(r"(/v1/proposals/status/)[^?\s]*")


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
