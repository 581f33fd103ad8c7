"""The DCAT catalog, the datasets and their bulk exports (CSV with TableSchema, JSON, GeoJSON)."""

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from app.db import SnapshotSessionDep
from app.http_cache.policy import body_unused
from app.repositories import territory as territory_repository
from app.routers.params import StrictQuery
from app.schemas.problem import problem_responses
from app.schemas.publication import DatasetOut
from app.services import catalog, publication
from app.services import exports as service
from app.services.catalog_vocabulary import RDF_MEDIA_TYPES, RdfFormat
from app.services.exports import MEDIA_TYPES, FiguresCache
from app.services.registry import REGISTRY
from app.services.registry_spec import IDENTIFIER_PATTERN, Format

router = APIRouter(prefix="/v1", tags=["publication"], dependencies=[StrictQuery])

DatasetId = Annotated[
    str,
    Path(
        pattern=IDENTIFIER_PATTERN,
        max_length=40,
        description="Permanent identifier of the dataset: " + ", ".join(REGISTRY.identifiers()),
        examples=["actions"],
    ),
]
GeographicDatasetId = Annotated[
    str,
    Path(
        pattern=IDENTIFIER_PATTERN,
        max_length=40,
        description="Permanent identifier of a geographic dataset: "
        + ", ".join(spec.identifier for spec in REGISTRY if spec.geometry),
        examples=["communes"],
    ),
]
CatalogPage = Annotated[
    int, Query(ge=1, le=1_000_000, description="Page of the catalog (Hydra paging).")
]


def base_url(request: Request) -> str:
    configured: str | None = request.app.state.settings.public_base_url
    return configured or str(request.base_url)


def figures_cache(request: Request) -> FiguresCache:
    cache: FiguresCache = request.app.state.figures
    return cache


def _file(
    media_type: str, description: str, schema: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    """A file answer; `schema` for the JSON ones (the others are text or bytes)."""
    schema = schema or {"type": "string"}
    return {
        200: {"description": description, "content": {media_type: {"schema": schema}}},
        **problem_responses(400, 404),
    }


async def _catalog(
    request: Request, session: SnapshotSessionDep, extension: RdfFormat, page: int
) -> Response:
    graph = await catalog.build_catalog(
        session,
        figures_cache(request),
        base_url(request),
        extension,
        page,
        request.app.state.settings.catalog_page_size,
    )
    try:
        body = await anyio.to_thread.run_sync(catalog.serialize, graph, extension)
    finally:
        catalog.release(graph)
    return Response(body, media_type=RDF_MEDIA_TYPES[extension])


CATALOG_DESCRIPTION = (
    "The datasets, their files (with size, SHA-256 and TableSchema) and this API as a "
    "dcat:DataService, in DCAT-AP 3. Paged with Hydra (`hydra:next`) when there are more "
    "datasets than a page holds."
)


@router.get(
    "/catalog.jsonld",
    response_class=Response,
    summary="The DCAT catalog, as JSON-LD",
    description=CATALOG_DESCRIPTION,
    responses=_file(
        "application/ld+json",
        "The catalog (JSON-LD).",
        {"type": "object", "required": ["@context"], "description": "A JSON-LD document."},
    ),
)
async def get_catalog_jsonld(
    request: Request, session: SnapshotSessionDep, page: CatalogPage = 1
) -> Response:
    return await _catalog(request, session, "jsonld", page)


@router.get(
    "/catalog.ttl",
    response_class=Response,
    summary="The DCAT catalog, as Turtle",
    description=CATALOG_DESCRIPTION,
    responses=_file("text/turtle", "The catalog (Turtle)."),
)
async def get_catalog_turtle(
    request: Request, session: SnapshotSessionDep, page: CatalogPage = 1
) -> Response:
    return await _catalog(request, session, "ttl", page)


@router.get(
    "/catalog.rdf",
    response_class=Response,
    summary="The DCAT catalog, as RDF/XML",
    description=CATALOG_DESCRIPTION,
    responses=_file("application/rdf+xml", "The catalog (RDF/XML)."),
)
async def get_catalog_rdfxml(
    request: Request, session: SnapshotSessionDep, page: CatalogPage = 1
) -> Response:
    return await _catalog(request, session, "rdf", page)


async def _export(
    request: Request, session: SnapshotSessionDep, dataset: str, fmt: Format
) -> Response:
    spec = publication.export_spec(dataset, fmt)
    figure = await service.figures(session, figures_cache(request), spec, fmt)
    headers = {
        "Content-Length": str(figure.byte_size),
        "Repr-Digest": figure.digest_header,
        "Content-Disposition": f'attachment; filename="{dataset}.{fmt}"',
    }
    if body_unused(request.scope):
        return Response(b"", media_type=MEDIA_TYPES[fmt], headers=headers)
    return StreamingResponse(
        service.file_chunks(session, spec, fmt), media_type=MEDIA_TYPES[fmt], headers=headers
    )


@router.get(
    "/datasets/{dataset}.csv",
    response_class=Response,
    summary="Export a whole dataset as CSV",
    description='UTF-8, comma-separated, `"` quoting, ISO 8601 dates, `.` decimals, WGS84, '
    "codes as text; described by the TableSchema at /v1/schemas/{dataset}.json. Streamed; "
    "`Content-Length` and `Repr-Digest` (SHA-256) are those the catalog publishes.",
    responses=_file("text/csv", "The dataset as CSV, with a header line."),
)
async def export_csv(request: Request, dataset: DatasetId, session: SnapshotSessionDep) -> Response:
    return await _export(request, session, dataset, "csv")


@router.get(
    "/datasets/{dataset}.json",
    response_class=Response,
    summary="Export a whole dataset as JSON",
    description="A JSON array of the dataset's records, in key order.",
    responses=_file(
        "application/json",
        "The dataset as a JSON array.",
        {"type": "array", "items": {"type": "object"}},
    ),
)
async def export_json(
    request: Request, dataset: DatasetId, session: SnapshotSessionDep
) -> Response:
    return await _export(request, session, dataset, "json")


@router.get(
    "/datasets/{dataset}.geojson",
    response_class=Response,
    summary="Export a geographic dataset as GeoJSON",
    description="A GeoJSON FeatureCollection (RFC 7946, WGS84) of the dataset's records.",
    responses=_file(
        "application/geo+json",
        "The dataset as GeoJSON.",
        {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"const": "FeatureCollection"},
                "features": {"type": "array", "items": {"type": "object"}},
            },
        },
    ),
)
async def export_geojson(
    request: Request, dataset: GeographicDatasetId, session: SnapshotSessionDep
) -> Response:
    return await _export(request, session, dataset, "geojson")


@router.get(
    "/schemas/{dataset}.json",
    summary="The TableSchema of a dataset's CSV file",
    responses={
        200: {
            "description": "A Frictionless TableSchema (https://specs.frictionlessdata.io).",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["fields"],
                        "properties": {
                            "fields": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "type"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "type": {"type": "string"},
                                    },
                                },
                            }
                        },
                    }
                }
            },
        },
        **problem_responses(400, 404),
    },
)
async def get_table_schema(
    request: Request, dataset: DatasetId, session: SnapshotSessionDep
) -> JSONResponse:
    spec = publication.dataset_spec(dataset)
    territory = await territory_repository.get_territory(session)
    name = territory.name if territory else ""
    url = f"{base_url(request).rstrip('/')}/v1/schemas/{dataset}.json"
    return JSONResponse(service.table_schema(spec, name, url))


@router.get(
    "/datasets",
    response_model=list[DatasetOut],
    summary="The published datasets and their files",
    responses=problem_responses(400, 404),
)
async def list_datasets(request: Request, session: SnapshotSessionDep) -> list[DatasetOut]:
    return await publication.describe(
        session, figures_cache(request), base_url(request), list(REGISTRY)
    )


@router.get(
    "/datasets/{dataset}",
    response_model=DatasetOut,
    summary="One published dataset and its files",
    responses=problem_responses(400, 404),
)
async def get_dataset(
    request: Request, dataset: DatasetId, session: SnapshotSessionDep
) -> DatasetOut:
    spec = publication.dataset_spec(dataset)
    described = await publication.describe(
        session, figures_cache(request), base_url(request), [spec]
    )
    return described[0]
