"""The OpenAPI document: FastAPI's, with errors described as RFC 9457 problem details."""

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.schemas.problem import PROBLEM_MEDIA_TYPE

TAGS = [
    {"name": "territory", "description": "The publishing body, its licence and its figures."},
    {"name": "plan", "description": "Axes → ambitions → operational objectives → actions."},
    {
        "name": "indicators",
        "description": "Indicators, their series of values and their progress to target.",
    },
    {"name": "communes", "description": "Member communes with their boundaries (GeoJSON)."},
    {
        "name": "initiatives",
        "description": "Geolocated projects and proposals (GeoJSON), with spatial filters.",
    },
    {
        "name": "moderation",
        "description": "The moderators' queue and actions on initiatives (private).",
    },
    {
        "name": "ogc",
        "description": "OGC API – Features (Parts 1, 2, 3) over initiatives, communes and "
        "located actions, and vector tiles. Landing page: /ogc.",
    },
    {
        "name": "publication",
        "description": "The DCAT catalog, the datasets and their bulk exports with TableSchema.",
    },
    {
        "name": "changes",
        "description": "Incremental sync: every creation, update and deletion, in order.",
    },
    {"name": "search", "description": "Full-text search in French, accents ignored."},
    {
        "name": "club",
        "description": "The ambassadors' club: members, follows and digests, opinions on actions.",
    },
    {
        "name": "webhooks",
        "description": "Key holders subscribe URLs to change events: signed POSTs, retried, "
        "in order per record.",
    },
    {"name": "editing", "description": "Editors' writes to the plan and its follow-up (a key)."},
    {"name": "admin", "description": "API keys and the audit log (an admin key)."},
    {"name": "proposals", "description": "Proposals and supports from the public (no key)."},
    {"name": "health", "description": "Probes for load balancers."},
]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem_content(operation: dict[str, Any], has_parameters: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422", {})
    if "HTTPValidationError" in str(validation):
        # FastAPI's own 422 is replaced: parameters are a 400, bodies a 422, both problems.
        del responses["422"]
    if has_parameters and "400" not in responses:
        responses["400"] = {"description": "A parameter is unknown, repeated or malformed."}
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}


def _if_match(operation: dict[str, Any]) -> None:
    """The routes read `If-Match` from the request itself: declare it where they honour it
    (412 documented), required where its absence is a 428."""
    responses = operation.get("responses", {})
    if "412" not in responses:
        return
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        return
    parameters.append(
        {
            "name": "If-Match",
            "in": "header",
            "required": "428" in responses,
            "description": "The ETag of your last GET of this URL (its `ETag` header).",
            "schema": {"type": "string", "examples": ['"a1b2c3"']},
        }
    )


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
        license_info=app.license_info,
    )
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _problem_content(operation, bool(operation.get("parameters")))
            _if_match(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document


def _schema_30(node: Any) -> Any:
    """A JSON Schema (OpenAPI 3.1 dialect) rewritten in the OpenAPI 3.0 subset."""
    if isinstance(node, list):
        return [_schema_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: _schema_30(value) for key, value in node.items()}
    for union in ("anyOf", "oneOf"):
        variants = schema.get(union)
        if isinstance(variants, list) and {"type": "null"} in variants:
            rest = [v for v in variants if v != {"type": "null"}]
            del schema[union]
            if len(rest) == 1 and "$ref" not in rest[0]:
                schema.update(rest[0])
            elif len(rest) == 1:
                schema["allOf"] = rest
            else:
                schema[union] = rest
            schema["nullable"] = True
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            schema["nullable"] = True
        if len(kinds) == 1:
            schema["type"] = kinds[0]
        else:
            del schema["type"]
            schema["anyOf"] = [{"type": k} for k in kinds]
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    if "examples" in schema and isinstance(schema["examples"], list):
        examples = schema.pop("examples")
        if examples:
            schema["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = schema.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            schema[plain] = value
            schema[bound] = True
    for dropped in ("$schema", "contentMediaType", "contentEncoding", "prefixItems", "$defs"):
        schema.pop(dropped, None)
    if "$ref" in schema and len(schema) > 1:
        # In 3.0 a $ref replaces its siblings: keep them by wrapping the reference.
        reference = {"$ref": schema.pop("$ref")}
        schema["allOf"] = [reference]
    return schema


def openapi_30(app: FastAPI) -> dict[str, Any]:
    """The service's OpenAPI document as 3.0, for clients that read only that version (the OGC
    landing page's `service-desc`)."""
    cached: dict[str, Any] | None = getattr(app.state, "openapi_30", None)
    if cached is not None:
        return cached
    document = copy.deepcopy(app.openapi())
    document["openapi"] = "3.0.3"
    info = document["info"]
    summary = info.pop("summary", None)
    if summary and not info.get("description"):
        info["description"] = summary
    licence = info.get("license")
    if licence:
        identifier = licence.pop("identifier", None)
        if identifier and "url" not in licence:
            licence["url"] = f"https://spdx.org/licenses/{identifier}.html"
    document.pop("webhooks", None)
    document.pop("jsonSchemaDialect", None)
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if "schema" in parameter:
                    parameter["schema"] = _schema_30(parameter["schema"])
                if isinstance(parameter.get("examples"), list):
                    values = parameter.pop("examples")
                    if values:
                        parameter["example"] = values[0]
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if "schema" in media:
                        media["schema"] = _schema_30(media["schema"])
            body = operation.get("requestBody", {})
            for media in body.get("content", {}).values():
                if "schema" in media:
                    media["schema"] = _schema_30(media["schema"])
    components = document.get("components", {})
    if "schemas" in components:
        components["schemas"] = {
            name: _schema_30(schema) for name, schema in components["schemas"].items()
        }
    app.state.openapi_30 = document
    return document
