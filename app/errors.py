"""Typed domain errors, and their one mapping to HTTP: RFC 9457 problem details."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from app.schemas.problem import PROBLEM_MEDIA_TYPE, InvalidField, Problem, problem_response

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """An error the client can act on. Subclasses fix the status and the problem type."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[InvalidField] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


class NotFoundError(DomainError):
    status = 404
    slug = "not-found"
    title = "Resource not found"


class InvalidParameterError(DomainError):
    status = 400
    slug = "invalid-parameter"
    title = "Invalid request parameter"

    def __init__(self, location: str, name: str, reason: str) -> None:
        super().__init__(
            f"{location} parameter '{name}': {reason}",
            errors=[InvalidField(location=location, name=name, reason=reason)],
        )


class AuthenticationError(DomainError):
    """No usable credentials where a key is required: missing, malformed, unknown or revoked."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        # RFC 6750: no error code when no credentials were sent at all.
        challenge = 'Bearer realm="territoire"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class PermissionDeniedError(DomainError):
    """A valid key without the scope the operation needs."""

    status = 403
    slug = "forbidden"
    title = "Not allowed"


class PreconditionRequiredError(DomainError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"


class PreconditionFailedError(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class ConflictError(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class InvalidBodyError(DomainError):
    """A body that parses but breaks a rule of the data (its parent missing, dates reversed...)."""

    status = 422
    slug = "invalid-body"
    title = "Invalid request body"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(
            "; ".join(f"body '{name}': {reason}" for name, reason in fields.items()),
            errors=[InvalidField(location="body", name=n, reason=r) for n, r in fields.items()],
        )


class GoneError(DomainError):
    status = 410
    slug = "gone"
    title = "No longer valid"


class ServiceUnavailableError(DomainError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


PROBLEM_TYPES: dict[str, str] = {
    NotFoundError.slug: "The resource named in the request does not exist.",
    InvalidParameterError.slug: (
        "A path, query or header parameter is unknown, repeated or malformed; "
        "`errors` names each one and says what is expected."
    ),
    "invalid-body": "The request body does not match the schema; `errors` names each faulty field.",
    "invalid-geometry": (
        "A geometry is malformed, invalid, empty, has too many vertices or lies outside the "
        "territory; `detail` says which."
    ),
    AuthenticationError.slug: (
        "The operation needs an API key (`Authorization: Bearer <key>`); none was sent, or the "
        "one sent is malformed, unknown or revoked."
    ),
    PermissionDeniedError.slug: (
        "The API key is valid but lacks the scope the operation needs (editor, moderator, admin)."
    ),
    PreconditionRequiredError.slug: (
        "An update must say which version it changes: send `If-Match` with the ETag of your "
        "last GET of the resource."
    ),
    PreconditionFailedError.slug: (
        "The resource changed since the ETag sent in `If-Match` was read: GET it again, "
        "re-apply your change and retry."
    ),
    ConflictError.slug: (
        "The write conflicts with the data: a code or key already taken, a record that still "
        "has children, a deletion already restored; `detail` says which."
    ),
    GoneError.slug: "The link or token was valid once and is not any more (expired or used).",
    ServiceUnavailableError.slug: "A dependency (the database) does not answer; retry later.",
    "internal-error": "An unexpected error on the server; it has been logged.",
    "payload-too-large": "The request body exceeds the size limit (MAX_BODY_BYTES).",
    "rate-limited": (
        "Too many writes from this client or member: wait `Retry-After` seconds, then retry."
    ),
    "idempotency-key-reused": "The Idempotency-Key was already used with another request.",
}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


def _validation_location(loc: Sequence[str | int]) -> tuple[str, str]:
    """('query', 'status', 0) names the parameter `status`; a body field keeps its dotted path."""
    where = str(loc[0]) if loc else "body"
    parts = loc[1:] if where == "body" else loc[1:2]
    return where, ".".join(str(part) for part in parts) or where


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _path(request: Request) -> str:
    # From the scope, not `request.url`: that one raises on a query string that is not UTF-8,
    # and an error handler must not fail.
    return str(request.scope.get("path", ""))


# A problem names what to fix; a request repeating a bad value 40 000 times gets the first few.
MAX_INVALID_FIELDS = 10


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors: list[InvalidField] = []
    for error in exc.errors()[:MAX_INVALID_FIELDS]:
        where, name = _validation_location(error.get("loc", ()))
        reason = error.get("msg", "invalid value")
        if error.get("type") == "extra_forbidden":
            reason = "unknown field"
        elif "input" in error and where != "body" and error.get("type") != "missing":
            reason = f"{reason} (got {_short(error['input'])!r})"
        errors.append(InvalidField(location=where, name=name, reason=reason))
    in_body = any(error.location == "body" for error in errors)
    status, slug, title = (
        (422, "invalid-body", "Invalid request body")
        if in_body
        else (400, InvalidParameterError.slug, InvalidParameterError.title)
    )
    detail = "; ".join(f"{e.location} '{e.name}': {e.reason}" for e in errors)
    if len(exc.errors()) > MAX_INVALID_FIELDS:
        detail += f"; and {len(exc.errors()) - MAX_INVALID_FIELDS} more"
    return problem_response(
        Problem(
            type=problem_type(slug),
            title=title,
            status=status,
            detail=detail,
            instance=_path(request),
            errors=errors,
        )
    )


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    response = problem_response(
        Problem(
            type=problem_type(exc.slug),
            title=exc.title,
            status=exc.status,
            detail=exc.detail,
            instance=_path(request),
            errors=exc.errors or None,
        )
    )
    for name, value in exc.headers.items():
        response.headers[name] = value
    if exc.status == 503 and "retry-after" not in response.headers:
        settings = getattr(request.app.state, "settings", None)
        response.headers["Retry-After"] = str(getattr(settings, "outage_retry_after_seconds", 5))
    return response


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {_short(_path(request))}; see /openapi.json for the routes."
    elif exc.status_code == 405:
        detail = f"Method {request.method} is not allowed on {_short(_path(request))}."
    response = problem_response(
        Problem(
            type="about:blank",
            title=_http_title(exc.status_code),
            status=exc.status_code,
            detail=str(detail),
            instance=_path(request),
        )
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    """Every method the path answers, whichever router declares it (a path's GET and its
    writes may live in different routers; Starlette names only the first route's)."""
    return ", ".join(
        method
        for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    )


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, _path(request), exc_info=exc)
    return problem_response(
        Problem(
            type=problem_type("internal-error"),
            title="Internal server error",
            status=500,
            detail="An unexpected error occurred; it has been logged.",
            instance=_path(request),
        )
    )


def _http_title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)


__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "AuthenticationError",
    "ConflictError",
    "DomainError",
    "InvalidBodyError",
    "InvalidParameterError",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "PreconditionRequiredError",
    "ServiceUnavailableError",
    "install_error_handlers",
]
