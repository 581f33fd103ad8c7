"""Malformed requests against every operation: never a 5xx, and every 4xx an RFC 9457 problem.

The operations come from the service's own OpenAPI document, so a new endpoint is covered as soon
as it is routed. For each one the path parameters are filled with a valid example (the schema's
`examples`, else a value from the loaded CALL data); then each path parameter and each declared
query parameter in turn is replaced by every value of CORPUS. Unknown and repeated parameters,
wrong methods, oversized requests and odd headers are tried too.

Values are percent-encoded here, by hand, and each request checks that httpx sent its target
byte for byte, so invalid UTF-8, NUL and the like reach the app exactly as written. What httpx
cannot send (URLs over 64 KiB, raw non-ASCII bytes) goes straight to the ASGI app, as a server
would pass it.

One test per operation: it loops over the corpus and reports every failing request at once.
"""

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Mount, Route

from app.config import Settings
from app.main import create_app
from app.models.club import Member
from app.models.commune import Commune
from app.models.editing import Deletion
from app.models.initiative import Initiative
from app.models.participation import Scope
from app.models.plan import Action, Ambition, Axis, Objective, action_commune
from app.schemas.indicator import INDICATOR_EXAMPLE
from app.services import club, editing_follow_up, keys
from app.services.pagination import encode_cursor
from tests.conftest import TEST_DATABASE_URL
from tests.proposal_fixtures import KNOWN_TOKEN, insert_proposal

PROBLEM = "application/problem+json"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRONG_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_PROBLEM_BYTES = 16 * 1024  # a problem names what to fix; it never echoes a whole request
FLOOD = 40_000  # repetitions of a parameter: more than PostgreSQL's 32 767 bind parameters
MAX_REPORTED = 40  # failures listed in one assertion message


def enc(text: str) -> str:
    """Percent-encode every reserved byte of UTF-8 `text`: the value arrives as written."""
    return quote(text, safe="")


# (label, value as it goes on the wire). Most are encoded from a Python string; the others are
# written raw on purpose: invalid UTF-8, bare or bad escapes, characters a client would encode.
CORPUS: tuple[tuple[str, str], ...] = (
    # wrong types and odd numbers
    ("letters", "abc"),
    ("decimal", "1.5"),
    ("negative", "-1"),
    ("zero", "0"),
    ("leading zero", "01"),
    ("plus sign", "%2B1"),
    ("hex", "0x10"),
    ("comma list", "1,2"),
    ("huge integer", "99999999999999999999999"),
    ("float overflow", "1e309"),
    ("NaN", "NaN"),
    ("infinity", "Infinity"),
    ("too many digits", "1234567"),
    ("too deep code", "1.1.1.1.1"),
    ("fullwidth digits", enc("１２")),
    ("arabic-indic digits", enc("٣٤")),
    ("boolean", "true"),
    # well-formed, but nothing has it
    ("absent, 5 digits", "99999"),
    ("absent, 6 digits", "999999"),
    ("absent, Corsica", "2A999"),
    ("absent, 4 levels", "9.9.9.9"),
    # empty and blank
    ("empty", ""),
    ("space", "%20"),
    ("plus as space", "+"),
    ("whitespace", enc(" \t \u00a0\u2003")),
    # very long
    ("10k letters", "a" * 10_000),
    ("10k digits", "1" * 10_000),
    ("10k accented", enc("é" * 10_000)),
    # unicode
    ("emoji", enc("🏳️‍🌈😀")),
    ("RTL", enc("مرحبا עברית\u202e")),
    ("combining accents", enc("e\u0301te\u0301 Lie\u0301vin")),
    ("zero-width and BOM", enc("\u200b\ufeff1")),
    ("noncharacters", enc("\ufffe\uffff")),
    ("astral plane", enc("𝔘𝔫𝔦𝔠𝔬𝔡𝔢")),
    # control characters
    ("NUL", "%00"),
    ("NUL inside", "1%00"),
    ("newline", "%0A"),
    ("trailing newline", "1%0A"),
    ("CRLF injection", "%0D%0ASet-Cookie:%20x=1"),
    ("tab", "%09"),
    ("unit separator", "%1F"),
    ("DEL", "%7F"),
    ("C1 control", "%C2%85"),
    # invalid UTF-8
    ("invalid byte FF", "%FF"),
    ("invalid sequence C3 28", "%C3%28"),
    ("lone surrogate", "%ED%A0%80"),
    ("overlong slash", "%C0%AF"),
    ("truncated sequence", "%E2%82"),
    ("bare percent", "%"),
    ("bad escape", "%zz"),
    ("half escape", "%4"),
    # SQL and LIKE
    ("SQL tautology", enc("' OR 1=1 --")),
    ("SQL stacked", enc("1; DROP TABLE action")),
    ("SQL LIKE breakout", enc("%' --")),
    ("SQL LIKE breakout raw", "%'%20--"),
    ("SQL union", enc("1 UNION SELECT insee FROM commune")),
    ("LIKE percent", "%25"),
    ("LIKE underscore", "_"),
    ("backslash", "%5C"),
    ("raw backslash", "\\"),
    ("regex", enc(".*")),
    # traversal, markup, structured, null-ish
    ("path traversal", enc("../../etc/passwd")),
    ("path traversal half-encoded", "..%2F..%2Fetc%2Fpasswd"),
    ("dot segment", "%2e%2e"),
    ("encoded slash", "1%2F2"),
    ("script", enc("<script>alert(1)</script>")),
    ("JSON array", enc("[1]")),
    ("raw brackets", "[1]"),
    ("JSON object", enc("{}")),
    ("format string", enc("{0}%s%n")),
    ("null", "null"),
    ("None", "None"),
    ("undefined", "undefined"),
)

# Unknown parameter names: (as the server decodes it, as written in the query string).
UNKNOWN_NAMES: tuple[tuple[str, str], ...] = (
    ("unknown_parameter", "unknown_parameter"),
    ("Q", "Q"),
    ("q[]", "q%5B%5D"),
    ("", ""),
    ("\x00", "%00"),
    ("\ufffd", "%FF"),
    ("x" * 10_000, "x" * 10_000),
)


# --- operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]


def schema_operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method.upper() in METHODS
    ]


def _collected_operations() -> list[Operation]:
    # Parametrization needs the list at collection time; building the app opens no connection.
    # Each test then takes its operation from GET /openapi.json, and a test below checks that
    # the served document lists exactly these operations.
    settings = Settings(environment="test", database_url=TEST_DATABASE_URL)  # type: ignore[arg-type]
    return schema_operations(create_app(settings).openapi())


OPERATIONS = _collected_operations()


# --- sending and judging -----------------------------------------------------------------------


@dataclass
class Report:
    """The requests one test sent, and what was wrong with each answer."""

    sent: int = 0
    failures: list[str] = field(default_factory=list)
    # The media types the operation declares for a 200 (JSON when it declares none).
    media_types: frozenset[str] = frozenset()

    def judge(
        self,
        request: str,
        response: httpx.Response,
        allowed: set[int],
        param: tuple[str, str] | None = None,
        media: frozenset[str] = frozenset(),
    ) -> None:
        for why in answer_errors(response, allowed, param, media | self.media_types):
            self.failures.append(f"{_short(request)} -> {response.status_code}: {why}")

    def check(self) -> None:
        if self.failures:
            shown = "\n  ".join(self.failures[:MAX_REPORTED])
            more = len(self.failures) - MAX_REPORTED
            tail = f"\n  ... and {more} more" if more > 0 else ""
            pytest.fail(
                f"{len(self.failures)} of {self.sent} requests failed:\n  {shown}{tail}",
                pytrace=False,
            )


def _short(text: str) -> str:
    return text if len(text) <= 160 else f"{text[:120]}... ({len(text)} chars)"


def _json(response: httpx.Response) -> tuple[Any, str | None]:
    try:
        return response.json(), None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, f"body is not JSON ({error.__class__.__name__}): {response.text[:80]!r}"


def _names(param: tuple[str, str], errors: Any) -> bool:
    where, name = param
    # Unknown names are echoed cut to 60 characters.
    return any(
        e.get("location") == where
        and (e.get("name") == name or (len(name) > 60 and name.startswith(e.get("name") or "\0")))
        for e in errors
    )


def problem_errors(response: httpx.Response, param: tuple[str, str] | None = None) -> list[str]:
    """What is wrong with an error answer: the RFC 9457 members, `errors` naming `param`."""
    content_type = response.headers.get("content-type", "")
    if content_type.split(";")[0].strip() != PROBLEM:
        return [f"content-type {content_type!r}, not {PROBLEM}: {response.text[:80]!r}"]
    body, error = _json(response)
    if error:
        return [error]
    if not isinstance(body, dict):
        return [f"problem is not an object: {body!r:.80}"]
    wrong = []
    # `instance` is the request's path; nothing else may grow with the request.
    size = len(json.dumps({k: v for k, v in body.items() if k != "instance"}).encode())
    if size > MAX_PROBLEM_BYTES:
        wrong.append(f"problem of {size} bytes besides `instance` (max {MAX_PROBLEM_BYTES})")
    if body.get("status") != response.status_code:
        wrong.append(f"member 'status' is {body.get('status')!r}, not {response.status_code}")
    for member in ("type", "title", "detail"):
        if not isinstance(body.get(member), str) or not body[member]:
            wrong.append(f"member {member!r} missing or empty: {body.get(member)!r:.80}")
    if param is not None and response.status_code == 400:
        errors = body.get("errors")
        if not isinstance(errors, list) or not all(
            isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("location", "name"))
            for e in errors
        ):
            wrong.append(f"`errors` missing or malformed: {errors!r:.120}")
        elif not _names(param, errors):
            named = [(e["location"], e["name"][:40]) for e in errors]
            wrong.append(f"`errors` {named} does not name {param[0]} {param[1][:40]!r}")
    return wrong


# Successful answers that are not JSON by design: vector tiles.
BINARY_MEDIA_TYPES = {"application/vnd.mapbox-vector-tile"}


def answer_errors(
    response: httpx.Response,
    allowed: set[int],
    param: tuple[str, str] | None = None,
    media_types: frozenset[str] = frozenset(),
) -> list[str]:
    """What is wrong with an answer: a 5xx, a status not allowed, a body not as announced.
    A success is JSON, or one of the non-JSON `media` types its operation declares (CSV)."""
    status = response.status_code
    if status >= 500:
        return [f"server error: {response.text[:160]!r}"]
    if status not in allowed:
        return [f"status not in {sorted(allowed)}: {response.text[:160]!r}"]
    if status == 204:
        return [f"204 with a body of {len(response.content)} bytes"] if response.content else []
    if status == 304:
        # Not modified: the validator is repeated, no body is sent.
        if not response.headers.get("etag"):
            return ["304 without ETag"]
        return [f"304 with a body of {len(response.content)} bytes"] if response.content else []
    if 200 <= status < 300:
        content_type = response.headers.get("content-type", "")
        base = content_type.split(";")[0].strip()
        if base in BINARY_MEDIA_TYPES:
            return []
        if base in media_types and not re.search(r"json\b", base):
            try:
                response.content.decode("utf-8")
            except UnicodeDecodeError:
                return [f"{base} body is not UTF-8"]
            return [] if response.content else [f"empty {base} body"]
        if not re.match(r"application/([a-z.+-]+\+)?json\b", content_type):
            return [f"content-type {content_type!r}, not JSON"]
        error = _json(response)[1]
        return [error] if error else []
    if 300 <= status < 400:
        return [] if response.headers.get("location") else ["redirect without Location"]
    return problem_errors(response, param)


async def send(
    client: httpx.AsyncClient, report: Report, method: str, target: str, **kwargs: Any
) -> httpx.Response:
    """Send `target` (path and query, already encoded) exactly as written."""
    response = await client.request(method, target, **kwargs)
    report.sent += 1
    sent = response.request.url.raw_path.decode("ascii")
    assert sent == target, f"httpx re-encoded {_short(target)!r} as {_short(sent)!r}"
    return response


async def send_raw(
    app: FastAPI,
    report: Report,
    method: str,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> httpx.Response:
    """Call the ASGI app with the scope a server builds from `target`, as httpx would not send it:
    an URL over 64 KiB, raw bytes in the query string or dot segments in the path."""
    path, _, query = target.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("ascii")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    start: dict[str, Any] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def reply(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    try:
        await app(scope, receive, reply)
    except Exception:
        # Starlette re-raises once it has answered 500; an app that did not answer is a 500 too.
        start.setdefault("status", 500)
    report.sent += 1
    return httpx.Response(start["status"], headers=start.get("headers", []), content=bytes(body))


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}/]+)\}", lambda m: values[m.group(1)], path)


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    return "?" + "&".join(f"{name}={value}" for name, value in pairs) if pairs else ""


# --- valid values ------------------------------------------------------------------------------


FOLLOW_UP_EXAMPLES = """
    WITH a AS (SELECT id FROM action WHERE code = '1.2.1.1'),
    b AS (INSERT INTO budget_line (action_id, year, nature, line_key, planned)
          SELECT id, 2024, 'investment', '', 1000 FROM a ON CONFLICT DO NOTHING)
    INSERT INTO milestone (action_id, position, milestone_key, milestone_date, title)
    SELECT id, 1, '', '2024-01-01', 'Exemple' FROM a ON CONFLICT DO NOTHING
"""


@pytest.fixture
async def loaded(session: AsyncSession) -> dict[str, str]:
    """Valid values by parameter name, read from the loaded CALL data."""

    async def first(column: Any, order: Any) -> str:
        value = await session.scalar(select(column).order_by(order).limit(1))
        assert value is not None, f"the CALL data has no {column}"
        return str(value)

    # A budget line and a milestone at the keys the routes give as examples.
    await session.execute(text(FOLLOW_UP_EXAMPLES))
    axis = await first(Axis.code, Axis.code_path)
    initiative = await first(Initiative.id, Initiative.id)
    value = await session.scalar(
        text(
            "SELECT min(v.id) FROM indicator_value v JOIN indicator i ON i.id = v.indicator_id "
            "WHERE i.code = :code"
        ),
        {"code": INDICATOR_EXAMPLE},
    )
    key = await keys.create_key(session, "exemple", ["editor"], None)
    # A deletion to restore.
    await session.execute(text(FOLLOW_UP_EXAMPLES.replace("2024", "2025").replace(", 1,", ", 2,")))
    await editing_follow_up.delete_milestone(session, "1.2.1.1", "1.2.1.1-2", "/v1/exemple")
    deletion = await first(Deletion.id, Deletion.id.desc())
    # A webhook subscription of that key with one delivery, and a member's published comment.
    action = await first(Action.code, Action.code_path)
    club_ids = (
        await session.execute(
            text(
                """
                WITH subscription AS (
                    INSERT INTO webhook_subscription (key_id, url, event_types, secret,
                                                      cursor_transaction, cursor_sequence)
                    VALUES (:key, 'https://hooks.example.org/t', '{*}', 'whsec_x', 0, 0)
                    RETURNING id
                ), delivery AS (
                    INSERT INTO webhook_delivery (subscription_id, event_id, event_type,
                                                  resource, payload)
                    SELECT id, 1, 'axes.updated', 'axes/1', '{}' FROM subscription
                    RETURNING id
                ), member AS (
                    INSERT INTO member (display_name, email, profile_type, status,
                                        digest_cursor_transaction, digest_cursor_sequence)
                    VALUES ('Exemple', 'exemple@example.org', 'resident', 'active', 0, 0)
                    RETURNING id
                ), comment AS (
                    INSERT INTO action_comment (action_code, member_id, body, status)
                    SELECT :action, id, 'Un avis', 'published' FROM member
                    RETURNING id
                )
                SELECT (SELECT id FROM subscription), (SELECT id FROM delivery),
                       (SELECT id FROM comment)
                """
            ),
            {"key": key.key.id, "action": action},
        )
    ).one()
    return {
        "subscription_id": str(club_ids[0]),
        "delivery_id": str(club_ids[1]),
        "comment_id": str(club_ids[2]),
        "target_key": action,
        "value_id": str(value),
        "key_id": str(key.key.id),
        "deletion_id": deletion,
        "initiative_id": initiative,
        "featureId": initiative,
        "axis": axis,
        "ambition": await first(Ambition.code, Ambition.code_path),
        "objective": await first(Objective.code, Objective.code_path),
        "action": await first(Action.code, Action.code_path),
        "commune": await first(action_commune.c.commune_insee, action_commune.c.commune_insee),
        "insee": await first(Commune.insee, Commune.insee),
        "cursor": encode_cursor(axis),
        "q": "a",
        "dataset": "actions",
        "token": KNOWN_TOKEN if await insert_proposal(session) else "",
    }


# A path parameter named "code" is the code of the level its collection holds.
LEVEL_OF_COLLECTION = {
    "axes": "axis",
    "ambitions": "ambition",
    "objectives": "objective",
    "actions": "action",
    "communes": "insee",
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _variants(document: dict[str, Any], param: dict[str, Any]) -> list[dict[str, Any]]:
    schema = param.get("schema", {})
    return [_resolve(document, s) for s in schema.get("anyOf", [schema])]


def is_array(document: dict[str, Any], param: dict[str, Any]) -> bool:
    return any(variant.get("type") == "array" for variant in _variants(document, param))


def valid_value(
    document: dict[str, Any], operation: Operation, param: dict[str, Any], loaded: dict[str, str]
) -> str:
    """An encoded valid value: the schema's example, else the CALL data, else the schema's."""
    schema = param.get("schema", {})
    for candidate in (param, schema):
        if candidate.get("examples"):
            return enc(str(candidate["examples"][0]))
        if "example" in candidate:
            return enc(str(candidate["example"]))
    name = param["name"]
    if param["in"] == "path" and name == "code":
        collection = operation.path.split("{code}")[0].rstrip("/").rsplit("/", 1)[-1]
        name = LEVEL_OF_COLLECTION.get(collection, name)
    if name in loaded:
        return enc(loaded[name])
    if schema.get("default") is not None:
        return enc(str(schema["default"]))
    for variant in _variants(document, param):
        items = _resolve(document, variant.get("items", {}))
        for enum in (variant.get("enum"), items.get("enum")):
            if enum:
                return enc(str(enum[0]))
        if variant.get("type") == "string" and "pattern" not in variant:
            return "a"
    raise AssertionError(
        f"{operation.id}: no valid example for {param['in']} parameter {param['name']!r}; "
        "give it `examples` in its schema or add it to the `loaded` fixture"
    )


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_every_served_operation_is_tried(document: dict[str, Any]) -> None:
    assert {op.id for op in schema_operations(document)} == {op.id for op in OPERATIONS}


def test_the_corpus_reaches_the_server_as_written() -> None:
    # The corpus is written as it goes on the wire: nothing in it may be re-encoded by httpx.
    for label, value in CORPUS:
        url = httpx.URL("http://testserver/v1/axes?q=" + value)
        assert url.raw_path == b"/v1/axes?q=" + value.encode("ascii"), label


# What a guarded write may answer to a request whose parameters are valid: created, done, a
# conflict with the data, or a missing If-Match (the authorization matrix is tested elsewhere).
WRITE_OUTCOMES = {200, 201, 202, 204, 409, 428}


async def member_token(session: AsyncSession) -> str:
    """A confirmed member of the club, and the personal token they act with."""
    token = club.new_token(club.MEMBER_TOKEN_PREFIX)
    session.add(
        Member(
            display_name="Malformé",
            email=f"malformed-{token[-8:]}@example.org",
            profile_type="resident",
            status="active",
            token_digest=club.digest(token),
            digest_cursor_transaction=0,
            digest_cursor_sequence=0,
        )
    )
    await session.flush()
    return token


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.id)
async def test_malformed_parameters(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    document: dict[str, Any],
    loaded: dict[str, str],
    operation: Operation,
) -> None:
    spec = document["paths"][operation.path][operation.method]
    operation = Operation(operation.method, operation.path, spec)
    method = operation.method.upper()
    content = operation.spec.get("responses", {}).get("200", {}).get("content", {})
    report = Report(media_types=frozenset(content))
    raw_headers: list[tuple[bytes, bytes]] = []
    outcomes = {200}
    schemes = {name for requirement in spec.get("security", []) for name in requirement}
    if schemes:
        # A key with every scope, or a member's token: the parameters are what is tried here.
        if "memberToken" in schemes:
            secret = await member_token(session)
        else:
            made = await keys.create_key(session, "malformed", [s.value for s in Scope], None)
            secret = made.secret
        await session.commit()
        client.headers["Authorization"] = f"Bearer {secret}"
        raw_headers.append((b"authorization", f"Bearer {secret}".encode()))
        if method != "GET":
            # A DELETE tried with valid parameters has deleted the record: 404 next time (401
            # for a member who deleted their own account).
            outcomes = WRITE_OUTCOMES | ({404, 401} if method == "DELETE" else set())
    path_params = operation.parameters("path")
    query_params = operation.parameters("query")
    path_values = {p["name"]: valid_value(document, operation, p, loaded) for p in path_params}
    query_values = {p["name"]: valid_value(document, operation, p, loaded) for p in query_params}
    required = [(p["name"], query_values[p["name"]]) for p in query_params if p.get("required")]
    path = fill(operation.path, path_values)
    body_status = {422} if "requestBody" in spec else set()
    # A capability URL (a secret `{token}` in the path): the example token is unknown.
    if "{token}" in operation.path:
        body_status |= {404, 410}
    declared_media = frozenset(
        media
        for media in spec["responses"].get("200", {}).get("content", {})
        if "json" not in media
    )

    def with_query(name: str, *values: str) -> str:
        """`path` with the required parameters, and `name` given each of `values`."""
        pairs = [pair for pair in required if pair[0] != name]
        return path + query_string(pairs + [(name, value) for value in values])

    async def expect(
        target: str | bytes, allowed: set[int], param: tuple[str, str] | None, label: str
    ) -> None:
        if isinstance(target, bytes):
            response = await send_raw(app, report, method, target, raw_headers)
            shown = target.decode("latin-1")
        else:
            response = await send(client, report, method, target)
            shown = target
        report.judge(
            f"[{label}] {method} {shown}", response, allowed | body_status, param, declared_media
        )

    # The valid request, and each query parameter alone with a valid value, are answered: each
    # malformed request below differs from a working one by one value only.
    if not body_status:
        await expect(path + query_string(required), outcomes, None, "valid")
        for name, value in query_values.items():
            await expect(with_query(name, value), outcomes, ("query", name), f"valid {name}")

    for label, bad in CORPUS:
        for param in path_params:
            name = param["name"]
            target = fill(operation.path, {**path_values, name: bad}) + query_string(required)
            # A slash or a dot segment may take the request off the route (404), an empty value
            # is redirected to the collection (307), a well-formed absent value is a 404.
            await expect(target, outcomes | {307, 400, 404}, ("path", name), f"{label} in {name}")
        for param in query_params:
            name = param["name"]
            await expect(
                with_query(name, bad), outcomes | {400}, ("query", name), f"{label} in {name}"
            )

    for decoded, written in UNKNOWN_NAMES:
        target = path + query_string([*required, (written, "1")])
        await expect(target, {400}, ("query", decoded), f"unknown parameter {decoded[:20]!r}")
    for target, label in (
        (path + "?&&&", "empty pairs"),
        (path + "?=", "empty name and value"),
        (path + "?;", "semicolon"),
    ):
        await expect(target, outcomes | {400}, None, label)
    for param in query_params:
        name = param["name"]
        value = query_values[name]
        repeatable = is_array(document, param)
        target = with_query(name, value, value)
        await expect(target, outcomes if repeatable else {400}, ("query", name), f"repeated {name}")

    # Beyond what httpx sends: straight to the app. Floods repeat a list parameter, or the first
    # single-valued one (the others are already tried repeated twice).
    flooded = [p for p in query_params if is_array(document, p)]
    flooded += [p for p in query_params if not is_array(document, p)][:1]
    for param in query_params:
        name = param["name"]
        # One item per page, so that a `Link` header to the next page is built.
        paged = b"&limit=1" if "limit" in query_values and name != "limit" else b""
        base = with_query(name)
        prefix = (base + ("&" if "?" in base else "?")).encode("ascii")
        good = f"{name}={query_values[name]}".encode("ascii")
        cases: list[tuple[str, bytes, set[int]]] = [
            ("1 MB value", f"{name}=".encode() + b"7" * 1_000_000, outcomes | {400}),
            ("raw UTF-8", f"{name}=".encode() + "Liévin".encode(), outcomes | {400}),
            ("raw invalid UTF-8", f"{name}=".encode() + b"\xff\xfe\xed\xa0\x80", outcomes | {400}),
            ("raw latin-1, paged", f"{name}=".encode() + b"\xe9" + paged, outcomes | {400}),
        ]
        if param in flooded:
            repeatable = is_array(document, param)
            cases += [
                (
                    "flood of valid values",
                    b"&".join([good] * FLOOD),
                    outcomes if repeatable else {400},
                ),
                ("flood of invalid values", b"&".join([f"{name}=%00".encode()] * FLOOD), {400}),
            ]
        for label, query, allowed in cases:
            await expect(prefix + query, allowed, ("query", name), f"{label} in {name}")
    await expect(path.encode() + b"?\xe9=1", {400}, ("query", "é"), "raw latin-1 name")
    for param in path_params:
        name = param["name"]
        for label, value in (
            ("1 MB value", "7" * 1_000_000),
            ("raw dot segments", "../../etc/passwd"),
            ("raw dot segment", "./"),
        ):
            target = fill(operation.path, {**path_values, name: value}) + query_string(required)
            await expect(target.encode(), {307, 400, 404}, ("path", name), f"{label} in {name}")
    flood = "&".join(f"unknown{i}=1" for i in range(FLOOD)).encode()
    await expect(path.encode() + b"?" + flood, {400}, None, "flood of unknown parameters")

    declared = {m.upper() for m in document["paths"][operation.path]}
    for wrong in (m for m in METHODS if m not in declared):
        target = path + query_string(required)
        response = await send(
            client, report, wrong, target, content=b'{"a":', headers={"content-type": "x/y"}
        )
        report.judge(f"{wrong} {target}", response, {405})
        allow = {m.strip() for m in response.headers.get("allow", "").split(",")}
        if response.status_code == 405 and not declared <= allow:
            report.failures.append(f"{wrong} {target} -> 405 with `Allow: {allow}`")

    report.check()


HEADER_CASES: tuple[tuple[str, list[tuple[str, bytes]]], ...] = (
    ("huge custom header", [("x-filler", b"a" * 100_000)]),
    ("many headers", [(f"x-h{i}", b"1") for i in range(2_000)]),
    ("huge Accept", [("accept", b"application/json;q=0.5," * 5_000)]),
    ("invalid Accept", [("accept", b"application/;;;q=abc, */*;q=-1, \x7f")]),
    ("unsatisfiable Accept", [("accept", b"image/png")]),
    ("garbage If-None-Match", [("if-none-match", b'W/"\x01garbage')]),
    ("huge If-None-Match", [("if-none-match", b", ".join([b'"x"'] * 10_000))]),
    ("star If-None-Match", [("if-none-match", b"*")]),
    ("garbage If-Modified-Since", [("if-modified-since", b"yesterday")]),
    ("UTF-8 header", [("x-name", "Liévin".encode())]),
    ("latin-1 header", [("x-name", "Liévin".encode("latin-1"))]),
    ("invalid UTF-8 header", [("x-name", b"\xff\xfe\xed\xa0\x80")]),
    ("garbage Accept-Encoding", [("accept-encoding", b"br;q=x, gzip;q=2, ;;")]),
    ("garbage Content-Type", [("content-type", b"application/json; charset=\x01")]),
    ("garbage Content-Length", [("content-length", b"-1")]),
    ("garbage Host", [("host", b"exa mple..com:99999")]),
    ("forwarded junk", [("x-forwarded-for", b"' OR 1=1 --"), ("forwarded", b"for=;;;")]),
)


@pytest.mark.parametrize("target", ["/v1/actions?limit=2", "/v1/communes/62498"])
async def test_odd_headers(client: httpx.AsyncClient, target: str) -> None:
    report = Report()
    for label, headers in HEADER_CASES:
        response = await send(client, report, "GET", target, headers=headers)
        report.judge(f"[{label}] GET {target}", response, {200, 304, 400, 406, 412})
    report.check()


# --- routes outside the OpenAPI document -------------------------------------------------------

# Valid values for the path parameters of routes the document leaves out.
HIDDEN_EXAMPLES = {
    "slug": "not-found",
    "path": "swagger-ui.css",
    "name": "map.js",
    "code": "1.2.1.1",
    "insee": "62498",
}
# A file each mount serves, where it is not the docs' asset.
MOUNT_EXAMPLES = {
    "/assets/explorer/{path}": "explorer.css",
    "/assets/vendor/{path}": "maplibre-gl/maplibre-gl.css",
}


def hidden_routes(app: FastAPI, document: dict[str, Any]) -> Iterator[tuple[str, set[str]]]:
    """Path templates (and their methods) the app routes but the OpenAPI document leaves out."""
    for route in app.routes:
        if isinstance(route, APIRoute | Route) and route.path not in document["paths"]:
            yield route.path, set(route.methods or ())
        elif isinstance(route, Mount):
            yield route.path + "/{path}", {"GET", "HEAD"}


async def test_routes_outside_the_schema(
    app: FastAPI, client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    report = Report()
    routes = list(hidden_routes(app, document))
    assert routes, "the docs, the problem types and the assets should be routed"
    for template, methods in routes:
        names = re.findall(r"\{([^}/:]+)", template)
        template = re.sub(r"\{([^}/:]+)(:[^}]*)?\}", r"{\1}", template)
        values = {name: HIDDEN_EXAMPLES[name] for name in names}
        if template in MOUNT_EXAMPLES:
            values["path"] = MOUNT_EXAMPLES[template]
        path = fill(template, values)

        async def expect(target: str, allowed: set[int], label: str) -> None:
            # These answer HTML, CSS or JavaScript: only statuses and errors are judged.
            response = await send(client, report, "GET", target)
            if response.status_code != 200 or 200 not in allowed:
                report.judge(f"[{label}] GET {target}", response, allowed - {200})

        await expect(path, {200}, "valid")
        await expect(path + "?unknown_parameter=%FF", {200, 400}, "unknown parameter")
        for label, bad in CORPUS:
            for name in names:
                await expect(fill(template, {**values, name: bad}), {200, 307, 400, 404}, label)
        for method in sorted(set(WRONG_METHODS) - methods):
            response = await send(client, report, method, path)
            report.judge(f"{method} {path}", response, {405})
    # No route at all, with a query string no URL can be decoded from.
    for method, target in (("GET", b"/no/such/route?\xe9=\xff"), ("POST", b"/v1/territory?\xff")):
        response = await send_raw(app, report, method, target)
        report.judge(f"{method} {target.decode('latin-1')}", response, {404, 405})
    report.check()
