"""OGC API – Features (Parts 1, 2 and 3) documents: landing page, conformance, collections,
queryables, and the feature pages assembled around the GeoJSON text PostgreSQL writes."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import Request

from app.db import Reader
from app.errors import NotFoundError
from app.repositories import features as feature_repository
from app.repositories.collections import COLLECTIONS, TILED
from app.repositories.features import Collection
from app.schemas.geometry import TERRITORY_MARGIN_METRES
from app.services.crs import CRS84, SUPPORTED, CrsSpec
from app.services.features import Query, encode_cursor, fetch_page, number_matched

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
MVT = "application/vnd.mapbox-vector-tile"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
]
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_DATA = "http://www.opengis.net/def/rel/ogc/1.0/data"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def base_url(request: Request) -> str:
    configured: str | None = request.app.state.settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"href": href, "rel": rel, "type": type_}
    if title:
        found["title"] = title
    return found


def self_links(
    url: str, encoding: str, titles: tuple[str, str] = ("This document", "As HTML")
) -> list[dict[str, Any]]:
    """`self` in the encoding served, `alternate` in the other one."""
    other = HTML if encoding != HTML else JSON
    return [
        link(f"{url}?f={_f(encoding)}", "self", encoding, titles[0]),
        link(f"{url}?f={_f(other)}", "alternate", other, titles[1] if other == HTML else "As JSON"),
    ]


def _f(media_type: str) -> str:
    return "html" if media_type == HTML else "json"


def landing(request: Request, encoding: str) -> dict[str, Any]:
    root = base_url(request)
    ogc = f"{root}/ogc"
    return {
        "title": f"{request.app.title} — OGC API – Features",
        "description": (
            "The territory's initiatives, member communes and located actions as OGC API – "
            "Features (Parts 1, 2 and 3), with vector tiles."
        ),
        "links": [
            *self_links(ogc, encoding),
            link(f"{ogc}/api", "service-desc", OPENAPI_30, "The API definition (OpenAPI 3.0)"),
            link(
                f"{root}/openapi.json",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.1",
                "The API definition (OpenAPI 3.1)",
            ),
            link(f"{root}/docs", "service-doc", HTML, "The API documentation"),
            link(f"{ogc}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{ogc}/conformance", REL_CONFORMANCE, JSON, "Conformance classes"),
            link(f"{ogc}/collections", "data", JSON, "The feature collections"),
            link(f"{ogc}/collections", REL_DATA, JSON, "The feature collections"),
        ],
    }


def conformance(request: Request, encoding: str) -> dict[str, Any]:
    return {
        "conformsTo": CONFORMANCE,
        "links": self_links(f"{base_url(request)}/ogc/conformance", encoding),
    }


def collection_or_404(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFoundError(
            f"No collection '{collection_id[:60]}'; the collections are "
            + ", ".join(COLLECTIONS)
            + "."
        )
    return found


async def collection_extent(reader: Reader, collection: Collection) -> list[float] | None:
    if collection.small:
        found = await feature_repository.extent(reader, collection)
        margin = 0.0
    else:
        # A large table's extent costs a scan: initiatives lie within the communes plus the
        # margin geometry validation allows, which bounds them.
        found = await feature_repository.extent(reader, COLLECTIONS["communes"])
        margin = TERRITORY_MARGIN_METRES
    if found is None:
        return None
    xmin, ymin, xmax, ymax = found
    dlat = margin / 111_132.0
    dlon = margin / (111_320.0 * math.cos(math.radians(max(abs(ymin), abs(ymax)))))
    return [
        round(xmin - dlon, 6),
        round(ymin - dlat, 6),
        round(xmax + dlon, 6),
        round(ymax + dlat, 6),
    ]


async def collection_document(
    request: Request, reader: Reader, collection: Collection, encoding: str
) -> dict[str, Any]:
    url = f"{base_url(request)}/ogc/collections/{collection.id}"
    links = [
        *self_links(url, encoding),
        link(f"{url}/items?f=json", "items", GEOJSON, "The features (GeoJSON)"),
        link(f"{url}/items?f=html", "items", HTML, "The features (HTML, with a map)"),
        link(f"{url}/queryables", REL_QUERYABLES, SCHEMA_JSON, "What `filter` may use"),
    ]
    if collection.id in TILED:
        links.append(
            {
                **link(
                    f"{url}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                    "item",
                    MVT,
                    "Vector tiles (WebMercatorQuad)",
                ),
                "templated": True,
            }
        )
        links.append(
            link(
                f"{url}/tiles/WebMercatorQuad/tilejson.json",
                "describedby",
                JSON,
                "The vector tiles as TileJSON 3.0.0",
            )
        )
    bbox = await collection_extent(reader, collection)
    document: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
        "links": links,
    }
    if bbox is not None:
        document["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return document


async def collections_document(request: Request, reader: Reader, encoding: str) -> dict[str, Any]:
    url = f"{base_url(request)}/ogc/collections"
    return {
        "links": self_links(url, encoding),
        "collections": [
            await collection_document(request, reader, collection, JSON)
            for collection in COLLECTIONS.values()
        ],
    }


def queryables(request: Request, collection: Collection) -> dict[str, Any]:
    url = f"{base_url(request)}/ogc/collections/{collection.id}/queryables"
    properties: dict[str, Any] = {"geometry": collection.geometry_schema}
    for name, prop in collection.properties.items():
        if prop.queryable:
            properties[name] = prop.schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": collection.title,
        "properties": properties,
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class ItemsResult:
    body: bytes  # the FeatureCollection
    features: str  # the features alone (for the HTML page)
    returned: int
    next_url: str | None


def _page_url(request: Request, cursor: str) -> str:
    base = base_url(request) + request.url.path
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "offset")]
    kept.append(("cursor", cursor))
    return f"{base}?{urlencode(kept)}"


def _self_url(request: Request, f: str) -> str:
    base = base_url(request) + request.url.path
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "f"]
    kept.append(("f", f))
    return f"{base}?{urlencode(kept)}"


async def items(
    request: Request, reader: Reader, query: Query, *, links_for: str = "ogc"
) -> ItemsResult:
    page = await fetch_page(reader, query)
    matched = await number_matched(reader, query, page)
    next_url = _page_url(request, encode_cursor(page.last_key)) if page.more else None
    envelope: dict[str, Any] = {"numberReturned": page.returned}
    if matched is not None:
        envelope["numberMatched"] = matched
    if links_for == "ogc":
        collection_url = f"{base_url(request)}/ogc/collections/{query.collection.id}"
        links = [
            link(_self_url(request, "json"), "self", GEOJSON, "This page"),
            link(_self_url(request, "html"), "alternate", HTML, "This page as HTML"),
            link(collection_url, "collection", JSON, "The collection"),
        ]
        if next_url:
            links.append(link(next_url, "next", GEOJSON, "Next page"))
        envelope["links"] = links
    else:
        # /v1/ pages are validated by the datasets' versions: the time of the answer does not
        # move their ETag. An OGC page's ETag is its body's hash, and the optional timeStamp
        # would change it every second: it is left out there.
        envelope["timeStamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        envelope["next_cursor"] = encode_cursor(page.last_key) if page.more else None
    tail = orjson.dumps(envelope)
    body = b'{"type":"FeatureCollection","features":[' + page.body.encode() + b"]," + tail[1:]
    return ItemsResult(body=body, features=page.body, returned=page.returned, next_url=next_url)


def item_links(request: Request, collection: Collection, key: str) -> bytes:
    url = f"{base_url(request)}/ogc/collections/{collection.id}/items/{quote(key, safe='')}"
    links = [
        link(f"{url}?f=json", "self", GEOJSON, "This feature"),
        link(f"{url}?f=html", "alternate", HTML, "This feature as HTML"),
        link(
            f"{base_url(request)}/ogc/collections/{collection.id}",
            "collection",
            JSON,
            "The collection",
        ),
    ]
    return orjson.dumps(links)


def with_links(feature: str, links: bytes) -> bytes:
    """A feature's GeoJSON text with `links` added (the text always ends with '}')."""
    return feature[:-1].encode() + b',"links":' + links + b"}"


def content_crs(spec: CrsSpec) -> str:
    return f"<{spec.uri}>"
