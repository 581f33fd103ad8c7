"""Vector tiles of the tiled collections (Mapbox Vector Tile, WebMercatorQuad): the tile, its
encodings and validators, and the TileJSON 3.0.0 document that describes each tileset.

A tile is a complete body, so its strong ETag is a hash of the bytes sent: the identity and the
gzip encodings are two representations and get two ETags (RFC 9110, 8.8.3), each computed from
the tile before it is compressed, so that a revalidation is answered without compressing.
"""

import gzip
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from app.db import Reader
from app.repositories import features as feature_repository
from app.repositories.features import Collection
from app.services.ogc import MVT, base_url, collection_extent

__all__ = ["MVT", "EncodedTile", "encode", "matches", "tile", "tilejson"]

TILEJSON = "application/json"
EXTENT = 4096  # tile coordinates per side: sub-pixel positions up to 3 zooms past the tile's
BUFFER = 64  # a point this close to an edge is in both tiles: its symbol is not cut
MIN_ZOOM = 0
MAX_ZOOM = 14  # clients overzoom beyond: EXTENT keeps the positions exact enough
# The tile over Lens (592 kB): level 4 gives 125.2 kB in about 5 ms, level 6 124.8 kB in 15 ms.
GZIP_LEVEL = 4
GZIP_MINIMUM = 1024  # as the compression middleware: smaller bodies gain nothing


async def tile(reader: Reader, collection: Collection, z: int, row: int, col: int) -> bytes:
    tile_bytes: bytes = await feature_repository.fetch_tile(
        reader, collection, z, col, row, extent=EXTENT, buffer=BUFFER
    )
    return tile_bytes


@dataclass(frozen=True)
class EncodedTile:
    etag: str
    gzip: bool  # the body sent is gzip-encoded
    raw: bytes

    def body(self) -> bytes:
        if not self.gzip:
            return self.raw
        return gzip.compress(self.raw, compresslevel=GZIP_LEVEL, mtime=0)


def encode(raw: bytes, gzip_accepted: bool) -> EncodedTile:
    """The representation sent for a request that does (or does not) accept gzip."""
    packed = gzip_accepted and len(raw) >= GZIP_MINIMUM
    digest = hashlib.blake2b(raw, digest_size=16, person=b"gzip" if packed else b"identity")
    return EncodedTile(etag=f'"{digest.hexdigest()}"', gzip=packed, raw=raw)


def matches(if_none_match: str | None, tag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110, 13.1.2): W/ prefixes are ignored."""
    if not if_none_match:
        return False
    candidates: Sequence[str] = [part.strip() for part in if_none_match.split(",")[:100]]
    return "*" in candidates or any(c.removeprefix("W/") == tag for c in candidates)


def tiles_url(request: Request, collection: Collection) -> str:
    return f"{base_url(request)}/ogc/collections/{collection.id}/tiles/WebMercatorQuad"


def _center_zoom(bounds: list[float]) -> int:
    """The zoom at which the bounds fit one 512-pixel tile, within the tileset's zooms."""
    west, south, east, north = bounds
    span = max(east - west, north - south, 1e-9)
    return max(MIN_ZOOM, min(MAX_ZOOM, math.floor(math.log2(360.0 / span))))


def _field(collection: Collection, name: str) -> str:
    schema = collection.properties[name].schema
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return f"{schema['title']} ({' or '.join(kinds)})"


async def tilejson(request: Request, reader: Reader, collection: Collection) -> dict[str, Any]:
    """TileJSON 3.0.0: the tile URL template ({z}/{y}/{x}: WebMercatorQuad's row then column),
    the zooms, the bounds and a center, and the one layer with its fields."""
    layer: dict[str, Any] = {
        "id": collection.id,  # the layer name ST_AsMVT writes
        "description": collection.title
        + (" (the MVT feature id is the feature's id)" if collection.key_type == "bigint" else ""),
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "fields": {name: _field(collection, name) for name in collection.tile_properties},
    }
    document: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": collection.title,
        "description": collection.description,
        "scheme": "xyz",
        "tiles": [tiles_url(request, collection) + "/{z}/{y}/{x}"],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "vector_layers": [layer],
    }
    bounds = await collection_extent(reader, collection)
    if bounds is not None:
        document["bounds"] = bounds
        document["center"] = [
            round((bounds[0] + bounds[2]) / 2, 6),
            round((bounds[1] + bounds[3]) / 2, 6),
            _center_zoom(bounds),
        ]
    return document
