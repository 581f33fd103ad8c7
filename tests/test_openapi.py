"""The contract third parties generate clients from."""

from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

METHODS = {"get", "put", "post", "patch", "delete", "head"}


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_the_document_is_valid_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_the_validator_rejects_a_broken_document() -> None:
    broken = {
        "openapi": "3.1.0",
        "info": {"title": "x"},
        "paths": {"/a": {"get": {"responses": 1}}},
    }
    try:
        validate(broken)
    except OpenAPIValidationError:
        return
    raise AssertionError("an invalid document passed validation")


async def test_operations_are_documented_for_client_generation(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    ids = []
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("operationId"), where
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        ids.append(operation["operationId"])
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], where
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, where
        if operation.get("parameters"):
            assert "400" in operation["responses"], where
    assert len(ids) == len(set(ids))
    assert {"get_plan_tree", "list_actions", "get_action", "list_communes"} <= set(ids)
    tags = {tag["name"] for tag in document["tags"]}
    assert {tag for _, _, op in operations(document) for tag in op["tags"]} <= tags


async def test_operation_ids_are_stable(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    by_route = {f"{m.upper()} {p}": op["operationId"] for p, m, op in operations(document)}
    assert by_route["GET /v1/actions/{code}"] == "get_action"
    assert by_route["GET /v1/axes"] == "list_axes"
    assert by_route["GET /v1/territory"] == "get_territory"


async def test_examples_and_geojson_media_type(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    communes = document["paths"]["/v1/communes"]["get"]["responses"]["200"]["content"]
    assert "application/geo+json" in communes
    code = document["paths"]["/v1/actions/{code}"]["get"]["parameters"][0]
    assert code["schema"]["examples"] == ["1.2.1.1"]
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def schemas_with_examples(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every schema, nested ones included, that gives `examples`."""
    if not isinstance(node, dict):
        return []
    found = [(where, node)] if isinstance(node.get("examples"), list) else []
    for key in ("items", "additionalProperties", "not"):
        found += schemas_with_examples(node.get(key), f"{where}.{key}")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, child in enumerate(node.get(key) or []):
            found += schemas_with_examples(child, f"{where}.{key}[{index}]")
    for name, child in (node.get("properties") or {}).items():
        found += schemas_with_examples(child, f"{where}.{name}")
    return found


async def test_examples_are_valid_against_their_schemas(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    found = []
    for name, schema in document["components"]["schemas"].items():
        found += schemas_with_examples(schema, name)
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            where = f"{method.upper()} {path} {parameter['name']}"
            found += schemas_with_examples(parameter.get("schema"), where)
        for media in operation.get("requestBody", {}).get("content", {}).values():
            found += schemas_with_examples(media.get("schema"), f"{method.upper()} {path} body")
    assert len(found) > 100
    for where, schema in found:
        validator = Draft202012Validator(
            {**schema, "components": document["components"]}, format_checker=FormatChecker()
        )
        for example in schema["examples"]:
            errors = [error.message for error in validator.iter_errors(example)]
            assert errors == [], (where, example, errors)


async def test_every_operation_id_is_the_one_clients_were_generated_with(
    client: httpx.AsyncClient,
) -> None:
    # A generated client names its functions after the operation ids: renaming one breaks
    # every caller. tests/fixtures/operation_ids.txt is the list to extend (never to rename).
    document = await openapi(client)
    served = sorted(f"{op['operationId']} {m.upper()} {p}" for p, m, op in operations(document))
    known = (Path(__file__).parent / "fixtures" / "operation_ids.txt").read_text().splitlines()
    assert served == known
