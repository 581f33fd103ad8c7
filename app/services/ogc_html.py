"""HTML encoding of the OGC API – Features resources, with a map drawn by the service's own
script (app/static/ogc/map.js): no CDN, no external tiles."""

import html
from typing import Any

import orjson

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#1b1b1b}
a{color:#0b5cad}table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
#map{border:1px solid #bbb;background:#f4f7f4;min-height:420px;margin:1rem 0}
.feature.area{fill:rgba(11,92,173,.18);stroke:#0b5cad;stroke-width:1}
.feature.line{fill:none;stroke:#b3261e;stroke-width:2}
.feature.point{fill:#b3261e;stroke:#fff;stroke-width:1.5}
nav{font-size:.9rem;margin-bottom:1rem}code{background:#eee;padding:0 .2rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, crumbs: list[tuple[str, str]], body: str, script: bool = False) -> str:
    trail = " › ".join(f'<a href="{_e(href)}">{_e(name)}</a>' for name, href in crumbs)
    script_tag = '<script src="/ogc/assets/map.js" defer></script>' if script else ""
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style>{script_tag}</head><body>"
        f"<nav>{trail}</nav><h1>{_e(title)}</h1>{body}</body></html>"
    )


def _links(links: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<li><a href="{_e(item["href"])}">{_e(item.get("title") or item["rel"])}</a> '
        f"<small>({_e(item['rel'])}, {_e(item['type'])})</small></li>"
        for item in links
        if not item.get("templated")
    )
    return f"<ul>{rows}</ul>"


CRUMB_HOME = ("OGC API", "/ogc?f=html")
CRUMB_COLLECTIONS = ("Collections", "/ogc/collections?f=html")


def landing(document: dict[str, Any]) -> str:
    body = f"<p>{_e(document['description'])}</p>{_links(document['links'])}"
    return page(document["title"], [CRUMB_HOME], body)


def conformance(document: dict[str, Any]) -> str:
    items = "".join(f"<li><code>{_e(uri)}</code></li>" for uri in document["conformsTo"])
    return page("Conformance", [CRUMB_HOME], f"<ul>{items}</ul>")


def _collection_block(collection: dict[str, Any]) -> str:
    bbox = collection.get("extent", {}).get("spatial", {}).get("bbox", [[]])[0]
    return (
        f'<h2><a href="/ogc/collections/{_e(collection["id"])}?f=html">{_e(collection["title"])}'
        f"</a></h2><p>{_e(collection['description'])}</p>"
        f"<p>Extent (CRS84): <code>{_e(bbox)}</code></p>"
        f"<p>CRS: {', '.join(f'<code>{_e(c)}</code>' for c in collection['crs'])}</p>"
        f"{_links(collection['links'])}"
    )


def collections(document: dict[str, Any]) -> str:
    body = "".join(_collection_block(c) for c in document["collections"])
    return page("Collections", [CRUMB_HOME, CRUMB_COLLECTIONS], body)


def collection(document: dict[str, Any]) -> str:
    return page(document["title"], [CRUMB_HOME, CRUMB_COLLECTIONS], _collection_block(document))


def _embedded(geojson: bytes) -> str:
    # Inside <script>, only "</" could end the element early.
    text = geojson.decode().replace("</", "<\\/")
    return f'<script id="features" type="application/json">{text}</script>'


def _table(features: list[dict[str, Any]], collection_id: str) -> str:
    names: list[str] = []
    for feature in features:
        for name in feature.get("properties") or {}:
            if name not in names:
                names.append(name)
    head = "<tr><th>id</th>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>"
    rows = "".join(
        f'<tr><td><a href="/ogc/collections/{_e(collection_id)}/items/{_e(f["id"])}?f=html">'
        f"{_e(f['id'])}</a></td>"
        + "".join(f"<td>{_e(_cell((f.get('properties') or {}).get(n)))}</td>" for n in names)
        + "</tr>"
        for f in features
    )
    return f"<table>{head}{rows}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)


def items(
    collection_id: str, title: str, features_text: str, returned: int, next_url: str | None
) -> str:
    geojson = b'{"type":"FeatureCollection","features":[' + features_text.encode() + b"]}"
    features = orjson.loads(geojson)["features"]
    more = f'<p><a rel="next" href="{_e(next_url)}">Next page</a></p>' if next_url else ""
    body = (
        f"<p>{returned} feature(s) on this page.</p>"
        f'<div id="map"></div>{_embedded(geojson)}{more}{_table(features, collection_id)}{more}'
    )
    crumbs = [CRUMB_HOME, CRUMB_COLLECTIONS, (title, f"/ogc/collections/{collection_id}?f=html")]
    return page(f"{title}: features", crumbs, body, script=True)


def item(collection_id: str, title: str, feature_text: str) -> str:
    feature = orjson.loads(feature_text)
    crumbs = [
        CRUMB_HOME,
        CRUMB_COLLECTIONS,
        (title, f"/ogc/collections/{collection_id}?f=html"),
        ("Features", f"/ogc/collections/{collection_id}/items?f=html"),
    ]
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(_cell(v))}</td></tr>"
        for k, v in (feature.get("properties") or {}).items()
    )
    body = f'<div id="map"></div>{_embedded(feature_text.encode())}<table>{rows}</table>'
    name = (feature.get("properties") or {}).get("title") or (feature.get("properties") or {}).get(
        "name"
    )
    return page(str(name or feature["id"]), crumbs, body, script=True)
