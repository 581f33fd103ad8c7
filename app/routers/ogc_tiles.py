"""Vector tiles of the OGC collections (Mapbox Vector Tile, WebMercatorQuad) and their TileJSON."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Path, Request
from starlette.responses import Response

from app.db import ReaderDep
from app.errors import NotFoundError
from app.http_cache.compression import accepts_gzip
from app.repositories.collections import TILED
from app.repositories.features import Collection
from app.routers.ogc import CollectionId, ok
from app.routers.params import StrictQuery
from app.schemas.ogc import TileJson
from app.schemas.problem import problem_responses
from app.services import ogc as ogc_service
from app.services import tiles as service

router = APIRouter(prefix="/ogc", tags=["ogc"], dependencies=[StrictQuery])

TILE_CACHE_CONTROL = "public, max-age=60, must-revalidate"


def tiled_or_404(collection_id: str) -> Collection:
    collection = ogc_service.collection_or_404(collection_id)
    if collection.id not in TILED:
        raise NotFoundError(f"Collection '{collection.id}' has no tiles; see " + ", ".join(TILED))
    return collection


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad/tilejson.json",
    summary="The collection's vector tiles as TileJSON 3.0.0",
    description="URL template, zooms, bounds, center and the layer's fields, for MapLibre, "
    "OpenLayers, QGIS and the like.",
    responses={**ok(TileJson, description="TileJSON 3.0.0."), **problem_responses(400, 404)},
)
async def get_tilejson(
    request: Request, reader: ReaderDep, collection_id: CollectionId
) -> Response:
    collection = tiled_or_404(collection_id)
    document = await service.tilejson(request, reader, collection)
    return Response(orjson.dumps(document), media_type=service.TILEJSON)


@router.get(
    "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A vector tile (Mapbox Vector Tile, WebMercatorQuad)",
    description="Initiatives and communes. gzip when `Accept-Encoding` admits it; a strong "
    "`ETag` per encoding; `If-None-Match` gives a 304.",
    response_class=Response,
    responses={
        200: {
            "content": {service.MVT: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The tile (may be empty).",
        },
        304: {"description": "The tile has not changed."},
        **problem_responses(400, 404),
    },
)
async def get_tile(
    request: Request,
    reader: ReaderDep,
    collection_id: CollectionId,
    tile_matrix: Annotated[
        int, Path(alias="tileMatrix", ge=0, le=24, description="Zoom level.", examples=[14])
    ],
    tile_row: Annotated[int, Path(alias="tileRow", ge=0, description="y.", examples=[5526])],
    tile_col: Annotated[int, Path(alias="tileCol", ge=0, description="x.", examples=[8320])],
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    collection = tiled_or_404(collection_id)
    if tile_row >= 2**tile_matrix or tile_col >= 2**tile_matrix:
        raise NotFoundError(f"No tile {tile_row}/{tile_col} at zoom {tile_matrix}.")
    raw = await service.tile(reader, collection, tile_matrix, tile_row, tile_col)
    encoded = service.encode(raw, accepts_gzip(request.headers.get("accept-encoding", "")))
    # The encoding depends on Accept-Encoding: a shared cache must key on it.
    headers = {"ETag": encoded.etag, "Cache-Control": TILE_CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if service.matches(if_none_match, encoded.etag):
        return Response(status_code=304, headers=headers)
    if encoded.gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(encoded.body(), media_type=service.MVT, headers=headers)
