"""Response classes the routers share."""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class GeoJSONResponse(JSONResponse):
    """RFC 7946 GeoJSON, serialized by orjson (geometries may be pre-encoded Fragments)."""

    media_type = "application/geo+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
