"""OGC API – Features over initiatives, communes and located actions (tiles: ogc_tiles)."""

from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import FileResponse, HTMLResponse, Response

from app.db import ReaderDep
from app.errors import NotFoundError
from app.openapi import openapi_30
from app.routers.params import StrictQuery
from app.schemas.ogc import (
    Collection,
    CollectionList,
    Conformance,
    FeatureCollection,
    FeatureWithLinks,
    LandingPage,
    OpenApiDocument,
    Queryables,
)
from app.schemas.problem import problem_responses
from app.services import ogc as service
from app.services import ogc_html
from app.services.crs import SUPPORTED, crs
from app.services.features import MAX_LIMIT, MAX_OFFSET, build_query, encode_cursor, fetch_feature

router = APIRouter(prefix="/ogc", tags=["ogc"], dependencies=[StrictQuery])
assets = APIRouter(include_in_schema=False)

STATIC = FilePath(__file__).resolve().parent.parent / "static" / "ogc"
CRS_LIST = ", ".join(SUPPORTED)

Encoding = Annotated[
    Literal["json", "html"] | None,
    Query(
        alias="f",
        description="Encoding: `json` (GeoJSON for features) or `html`. Without it, the "
        "`Accept` header decides, JSON by default.",
    ),
]
CollectionId = Annotated[
    str,
    Path(
        alias="collectionId",
        max_length=100,
        description="`initiatives`, `communes` or `actions`.",
        examples=["initiatives"],
    ),
]


def negotiate(request: Request, f: str | None, json_type: str = service.JSON) -> str:
    """`f` first, else the Accept header's preference; JSON for `*/*` or anything else."""
    if f is not None:
        return service.HTML if f == "html" else json_type
    best_html = best_json = -1.0
    for part in request.headers.get("accept", "")[:2000].split(",")[:50]:
        media, _, parameters = part.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        if media == "text/html":
            best_html = max(best_html, quality)
        elif media in ("application/json", "application/geo+json", "*/*", "application/*"):
            best_json = max(best_json, quality)
    return service.HTML if best_html > best_json and best_html > 0 else json_type


def json_response(document: Any, media_type: str = service.JSON) -> Response:
    return Response(orjson.dumps(document), media_type=media_type)


def ok(
    model: type[BaseModel], *media_types: str, description: str = "The resource."
) -> dict[int | str, dict[str, Any]]:
    """A 200 whose JSON answers (`application/json` and `media_types`) follow `model`; HTML
    answers are text."""
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    content = {
        media_type: {"schema": {"type": "string"} if media_type == service.HTML else reference}
        for media_type in media_types
    }
    return {200: {"model": model, "content": content, "description": description}}


@router.get(
    "",
    summary="OGC API – Features landing page",
    responses={**ok(LandingPage, service.HTML), **problem_responses(400)},
)
async def ogc_landing(request: Request, f: Encoding = None) -> Response:
    encoding = negotiate(request, f)
    document = service.landing(request, encoding)
    if encoding == service.HTML:
        return HTMLResponse(ogc_html.landing(document))
    return json_response(document)


@router.get(
    "/conformance",
    summary="Conformance classes implemented",
    responses={**ok(Conformance, service.HTML), **problem_responses(400)},
)
async def ogc_conformance(request: Request, f: Encoding = None) -> Response:
    encoding = negotiate(request, f)
    document = service.conformance(request, encoding)
    if encoding == service.HTML:
        return HTMLResponse(ogc_html.conformance(document))
    return json_response(document)


@router.get(
    "/api",
    summary="The API definition as OpenAPI 3.0",
    responses={
        **ok(OpenApiDocument, service.OPENAPI_30, description="OpenAPI 3.0 document."),
        **problem_responses(400),
    },
)
async def ogc_openapi(request: Request) -> Response:
    return Response(orjson.dumps(openapi_30(request.app)), media_type=service.OPENAPI_30)


@router.get(
    "/collections",
    summary="The feature collections",
    responses={**ok(CollectionList, service.HTML), **problem_responses(400)},
)
async def ogc_collections(request: Request, reader: ReaderDep, f: Encoding = None) -> Response:
    encoding = negotiate(request, f)
    document = await service.collections_document(request, reader, encoding)
    if encoding == service.HTML:
        return HTMLResponse(ogc_html.collections(document))
    return json_response(document)


@router.get(
    "/collections/{collectionId}",
    summary="One feature collection",
    responses={**ok(Collection, service.HTML), **problem_responses(400, 404)},
)
async def ogc_collection(
    request: Request, reader: ReaderDep, collection_id: CollectionId, f: Encoding = None
) -> Response:
    collection = service.collection_or_404(collection_id)
    encoding = negotiate(request, f)
    document = await service.collection_document(request, reader, collection, encoding)
    if encoding == service.HTML:
        return HTMLResponse(ogc_html.collection(document))
    return json_response(document)


@router.get(
    "/collections/{collectionId}/queryables",
    summary="The properties `filter` may use, as JSON Schema",
    responses={
        **ok(Queryables, service.SCHEMA_JSON, description="JSON Schema."),
        **problem_responses(400, 404),
    },
)
async def ogc_queryables(request: Request, collection_id: CollectionId) -> Response:
    collection = service.collection_or_404(collection_id)
    return json_response(service.queryables(request, collection), service.SCHEMA_JSON)


CrsParam = Annotated[
    str | None,
    Query(
        alias="crs",
        max_length=200,
        description=f"CRS of the geometries in the response; one of {CRS_LIST}. Default CRS84.",
        examples=["http://www.opengis.net/def/crs/EPSG/0/2154"],
    ),
]
FEATURES_DESCRIPTION = "GeoJSON (RFC 7946 when the CRS is CRS84), or HTML with a map."


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection, paged",
    description="Filters: `bbox` (with `bbox-crs`), `datetime`, and a CQL2 `filter` (text or "
    "JSON, see the queryables). Pages follow the `next` link (an opaque keyset cursor); "
    f"`limit` above {MAX_LIMIT} is clamped. `numberMatched` is given only when exact.",
    responses={
        **ok(FeatureCollection, service.GEOJSON, service.HTML, description=FEATURES_DESCRIPTION),
        **problem_responses(400, 404),
    },
)
async def get_features(
    request: Request,
    reader: ReaderDep,
    collection_id: CollectionId,
    limit: Annotated[
        int, Query(ge=1, description=f"Page size; above {MAX_LIMIT} it is clamped.")
    ] = 10,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Features to skip (prefer `next` links).")
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=300,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Opaque position, from the `next` link of the previous page.",
            examples=[encode_cursor(0)],
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="min x, min y, max x, max y in `bbox-crs` (CRS84 by default).",
            examples=["2.80,50.40,2.86,50.45"],
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(
            alias="bbox-crs",
            max_length=200,
            description=f"CRS of `bbox`; one of {CRS_LIST}.",
            examples=["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        ),
    ] = None,
    crs_uri: Annotated[
        str | None,
        Query(
            alias="crs",
            max_length=200,
            description=f"CRS of the response's geometries; one of {CRS_LIST}.",
            examples=["http://www.opengis.net/def/crs/EPSG/0/2154"],
        ),
    ] = None,
    datetime: Annotated[
        str | None,
        Query(
            max_length=100,
            description="An instant, a date or an interval (`start/end`, `..` for an open end), "
            "on the publication date of initiatives and the update date of the others.",
            examples=["2020-01-01T00:00:00Z/.."],
        ),
    ] = None,
    filter: Annotated[
        str | None,
        Query(
            max_length=20_000,
            description="A CQL2 filter over the queryables (text or JSON, see `filter-lang`).",
            examples=["location_precision = 'commune'"],
        ),
    ] = None,
    filter_lang: Annotated[
        Literal["cql2-text", "cql2-json"],
        Query(alias="filter-lang", description="Language of `filter`."),
    ] = "cql2-text",
    filter_crs: Annotated[
        str | None,
        Query(
            alias="filter-crs",
            max_length=200,
            description=f"CRS of the geometries in `filter`; one of {CRS_LIST}.",
            examples=["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        ),
    ] = None,
    f: Encoding = None,
) -> Response:
    collection = service.collection_or_404(collection_id)
    output = crs(crs_uri, "crs")
    query = build_query(
        collection,
        output=output,
        limit=limit,
        offset=offset,
        cursor=cursor,
        bbox=bbox,
        bbox_crs=crs(bbox_crs, "bbox-crs") if bbox_crs else None,
        datetime_text=datetime,
        filter_text=filter,
        filter_lang=filter_lang,
        filter_crs=crs(filter_crs, "filter-crs") if filter_crs else None,
    )
    result = await service.items(request, reader, query)
    headers = {"Content-Crs": service.content_crs(output)}
    if negotiate(request, f, service.GEOJSON) == service.HTML:
        page = ogc_html.items(
            collection.id, collection.title, result.features, result.returned, result.next_url
        )
        return HTMLResponse(page, headers=headers)
    if result.next_url:
        headers["Link"] = f'<{result.next_url}>; rel="next"; type="{service.GEOJSON}"'
    return Response(result.body, media_type=service.GEOJSON, headers=headers)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    responses={
        **ok(FeatureWithLinks, service.GEOJSON, service.HTML, description=FEATURES_DESCRIPTION),
        **problem_responses(400, 404),
    },
)
async def get_feature(
    request: Request,
    reader: ReaderDep,
    collection_id: CollectionId,
    feature_id: Annotated[
        str, Path(alias="featureId", max_length=100, description="The feature's `id`.")
    ],
    crs_uri: CrsParam = None,
    f: Encoding = None,
) -> Response:
    collection = service.collection_or_404(collection_id)
    output = crs(crs_uri, "crs")
    feature = await fetch_feature(reader, collection, output, feature_id)
    headers = {"Content-Crs": service.content_crs(output)}
    if negotiate(request, f, service.GEOJSON) == service.HTML:
        return HTMLResponse(
            ogc_html.item(collection.id, collection.title, feature), headers=headers
        )
    links = service.item_links(request, collection, feature_id)
    return Response(service.with_links(feature, links), media_type=service.GEOJSON, headers=headers)


@assets.get("/ogc/assets/{name}")
async def ogc_asset(name: str) -> FileResponse:
    if name != "map.js":
        raise NotFoundError(f"No asset '{name[:60]}'.")
    return FileResponse(STATIC / name, media_type="text/javascript")
