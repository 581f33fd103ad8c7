"""The OpenAPI document: FastAPI's, with errors described as RFC 9457 problem details."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.schemas.problem import PROBLEM_MEDIA_TYPE

TAGS = [
    {"name": "territory", "description": "The publishing body, its licence and its figures."},
    {"name": "plan", "description": "Axes → ambitions → operational objectives → actions."},
    {"name": "communes", "description": "Member communes with their boundaries (GeoJSON)."},
    {
        "name": "publication",
        "description": "The DCAT catalog, the datasets and their bulk exports with TableSchema.",
    },
    {
        "name": "changes",
        "description": "Incremental sync: every creation, update and deletion, in order.",
    },
    {"name": "search", "description": "Full-text search in French, accents ignored."},
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
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document
