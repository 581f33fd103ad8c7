"""The explorer: server-rendered pages for residents at `/` (French first, English when the
browser asks), the embeddable widgets, and their assets. The pages read through the services the
JSON API uses; their scripts (map, proposal, support, widgets) call the public JSON API."""

import html
import re
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path as FilePath
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.db import ReaderDep, SessionDep
from app.errors import InvalidParameterError, NotFoundError, handle_validation_error
from app.models.plan import ActionStatus
from app.schemas.common import INSEE_PATTERN, SearchText, code_pattern
from app.services import explorer as service
from app.services import search as search_service
from app.services.explorer_text import choose_language, method_text, status_label, translate

APP_ROOT = FilePath(__file__).resolve().parent.parent
ASSETS_PATH = "/assets/explorer"
VENDOR_PATH = "/assets/vendor"

templates = Environment(
    loader=FileSystemLoader(APP_ROOT / "templates" / "explorer"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)

_MARK = re.compile(r"(</?mark>)")
_MARKS = {"<mark>": Markup("<mark>"), "</mark>": Markup("</mark>")}


def highlighted(fragment: str) -> Markup:
    """A search hit's fragment as HTML: its `<mark>` tags kept, all else escaped here again, so
    the page never relies on how the fragment was escaped before (or whether it was)."""
    return Markup("").join(
        _MARKS[part] if part in _MARKS else escape(html.unescape(part))
        for part in _MARK.split(fragment)
    )


templates.filters["highlighted"] = highlighted

Lang = Annotated[str | None, Query(max_length=5)]
ActionCode = Annotated[str, Path(pattern=code_pattern(4), max_length=40)]
Insee = Annotated[str, Path(pattern=INSEE_PATTERN)]


def _money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}".replace(",", "\u202f") + "\u00a0€"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}\u00a0%"


# Everything from this service; no inline script (style attributes draw the progress bars);
# MapLibre runs its workers from blob: URLs and draws images from data: and blob: URLs.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; child-src 'self' blob:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors "
)


def _security_headers(path: str) -> dict[str, str]:
    """The widgets are made to be framed by any site; every other page only by this one (its
    proposal form and support buttons must not be clickjacked)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if path.startswith("/widgets/"):
        headers["Content-Security-Policy"] = _POLICY + "*"
    else:
        headers["Content-Security-Policy"] = _POLICY + "'self'"
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def _route_path(request: Request) -> str:
    # From the scope (request.url raises on a query string that is not UTF-8), below root_path.
    path = str(request.scope.get("path", ""))
    root = str(request.scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _render(
    request: Request, template: str, language: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    # Absolute, for the snippets pasted on other sites: the configured address, else this one.
    base = (request.app.state.settings.public_base_url or str(request.base_url)).rstrip("/")
    body = templates.get_template(template).render(
        lang=language,
        t=lambda key: translate(language, key),
        status_label=lambda status: status_label(language, status),
        method_text=lambda method: method_text(language, method),
        money=_money,
        percent=_percent,
        root=root,
        assets=root + ASSETS_PATH,
        vendor=root + VENDOR_PATH,
        base=base,
        path=_route_path(request),
        **context,
    )
    # The language follows Accept-Language (and `lang`): shared caches keep one copy per value.
    headers = {
        "Content-Language": language,
        "Vary": "Accept-Language",
        **_security_headers(_route_path(request)),
    }
    return HTMLResponse(body, status_code=status_code, headers=headers)


def _not_found(request: Request, language: str, error: NotFoundError) -> HTMLResponse:
    return _render(request, "not_found.html", language, status_code=404, detail=str(error))


def _language(request: Request, lang: str | None) -> str:
    return choose_language(lang, request.headers.get("accept-language"))


async def _record_page(
    request: Request, lang: str | None, template: str, name: str, load: Awaitable[Any]
) -> HTMLResponse:
    """The page of one record, given to the template as `name`; the 404 page when there is none."""
    language = _language(request, lang)
    try:
        record = await load
    except NotFoundError as error:
        return _not_found(request, language, error)
    return _render(request, template, language, **{name: record})


def _qualities(request: Request) -> tuple[float, float, float]:
    """The best quality the Accept header gives a JSON type, text/html (or XHTML) named
    explicitly, and HTML through a wildcard (`*/*`, `text/*`)."""
    json, named, wildcard = 0.0, 0.0, 0.0
    for part in request.headers.get("accept", "").split(","):
        media, *parameters = part.strip().lower().split(";")
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.endswith(("/json", "+json")):
            json = max(json, quality)
        elif media in ("text/html", "application/xhtml+xml"):
            named = max(named, quality)
        elif media in ("text/*", "*/*"):
            wildcard = max(wildcard, quality)
    return json, named, wildcard


def _wants_json(request: Request) -> bool:
    """Whether the client prefers JSON to HTML (an API client asking `/`): a JSON type with a
    higher quality than text/html's (which `*/*` and `text/*` give too)."""
    json, named, wildcard = _qualities(request)
    return json > max(named, wildcard)


def _asks_for_html(request: Request) -> bool:
    """Whether the client names HTML above JSON, as browsers do: its errors are then pages.
    Other clients (`*/*` included) keep the API's problem+json."""
    json, named, _ = _qualities(request)
    return named > json


async def _bad_request_page(request: Request, error: RequestValidationError) -> Response:
    # The API's own problem (same wording, same status), laid out as a page.
    problem = await handle_validation_error(request, error)
    body = orjson.loads(bytes(problem.body))
    language = choose_language(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    return _render(
        request,
        "bad_request.html",
        language,
        status_code=problem.status_code,
        problem=body,
    )


class ExplorerRoute(APIRoute):
    """The explorer's routes: a malformed path or query is a 4xx page for a browser, the API's
    problem+json for every other client."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                if not _asks_for_html(request):
                    raise
                return await _bad_request_page(request, error)

        return route


router = APIRouter(include_in_schema=False, route_class=ExplorerRoute)


@router.get("/")
async def home(request: Request, session: SessionDep, lang: Lang = None) -> Response:
    if _wants_json(request):
        # `/` had no route before the explorer: a JSON client gets where to go.
        root = request.scope.get("root_path", "")
        return JSONResponse(
            {
                "title": request.app.title,
                "links": [
                    {"rel": "service-desc", "href": f"{root}/openapi.json"},
                    {"rel": "service-doc", "href": f"{root}/docs"},
                    {"rel": "data", "href": f"{root}/v1/territory"},
                    {"rel": "ogc", "href": f"{root}/ogc"},
                    {"rel": "alternate", "type": "text/html", "href": f"{root}/"},
                ],
            },
            headers={"Vary": "Accept"},
        )
    language = _language(request, lang)
    page = await service.home(session)
    response = _render(request, "home.html", language, page=page)
    response.headers["Vary"] = "Accept, Accept-Language"
    return response


@router.get("/action/{code}")
async def action(
    request: Request, session: SessionDep, reader: ReaderDep, code: ActionCode, lang: Lang = None
) -> HTMLResponse:
    return await _record_page(
        request, lang, "action.html", "page", service.action_page(session, reader, request, code)
    )


@router.get("/commune/{insee}")
async def commune(
    request: Request, session: SessionDep, reader: ReaderDep, insee: Insee, lang: Lang = None
) -> HTMLResponse:
    return await _record_page(
        request, lang, "commune.html", "page", service.commune_page(session, reader, request, insee)
    )


@router.get("/map")
async def map_page(
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    lang: Lang = None,
    axis: Annotated[str | None, Query(pattern=code_pattern(1))] = None,
    commune: Annotated[str | None, Query(pattern=INSEE_PATTERN)] = None,
    status: Annotated[ActionStatus | None, Query()] = None,
) -> HTMLResponse:
    language = _language(request, lang)
    home = await service.home(session)
    initiatives = await service.map_initiatives(session, reader, request, axis, commune)
    actions = await service.map_actions(session, axis, commune, status.value if status else None)
    return _render(
        request,
        "map.html",
        language,
        page=home,
        communes=await service.communes(session),
        initiatives=initiatives,
        actions=actions,
        statuses=[s.value for s in ActionStatus],
        chosen={"axis": axis, "commune": commune, "status": status.value if status else None},
    )


@router.get("/search")
async def search(
    request: Request,
    session: SessionDep,
    lang: Lang = None,
    q: Annotated[SearchText | None, Query()] = None,
) -> HTMLResponse:
    language = _language(request, lang)
    hits = None
    problem = None
    if q:
        filters = search_service.search_filters(
            datasets=None,
            commune=None,
            plan={},
            statuses=None,
            updated_since=None,
            bbox=None,
            near=None,
        )
        try:
            page = await search_service.search(session, q, filters, None, 50, str(request.base_url))
            hits = [(hit, service.explorer_path(hit.dataset, hit.key)) for hit in page.items]
        except InvalidParameterError as error:  # shown beside the box, as the API says it
            problem = error.detail
    return _render(request, "search.html", language, q=q or "", hits=hits, problem=problem)


# --- widgets -------------------------------------------------------------------------------------


@router.get("/widgets/plan")
async def widget_plan(request: Request, session: SessionDep, lang: Lang = None) -> HTMLResponse:
    language = _language(request, lang)
    return _render(request, "widget_plan.html", language, page=await service.home(session))


@router.get("/widgets/action/{code}")
async def widget_action(
    request: Request, session: SessionDep, code: ActionCode, lang: Lang = None
) -> HTMLResponse:
    return await _record_page(
        request, lang, "widget_action.html", "action", service.action_card(session, code)
    )


@router.get("/widgets/commune/{insee}")
async def widget_commune(
    request: Request, session: SessionDep, insee: Insee, lang: Lang = None
) -> HTMLResponse:
    return await _record_page(
        request, lang, "widget_commune.html", "card", service.commune_card(session, insee)
    )


@router.get("/widgets/map")
async def widget_map(
    request: Request,
    session: SessionDep,
    lang: Lang = None,
    axis: Annotated[str | None, Query(pattern=code_pattern(1))] = None,
    commune: Annotated[str | None, Query(pattern=INSEE_PATTERN)] = None,
) -> HTMLResponse:
    language = _language(request, lang)
    territory = await service.territory_summary(session)
    return _render(
        request, "widget_map.html", language, territory=territory, axis=axis, commune=commune
    )


def mount_assets(app: FastAPI) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=APP_ROOT / "static" / "explorer"), name="explorer")
    # check_dir off: the vendor folder is filled by scripts/lib.sh (npm), absent in a bare clone.
    app.mount(
        VENDOR_PATH,
        StaticFiles(directory=APP_ROOT / "static" / "vendor", check_dir=False),
        name="vendor",
    )
