"""RFC 9457 problem details."""

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"


class InvalidField(BaseModel):
    location: str = Field(description="Where the faulty value is: path, query, header or body.")
    name: str = Field(description="The parameter or field name (dotted path inside a body).")
    reason: str = Field(description="What is wrong and what is expected.")


class Problem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/not-found",
                    "title": "Resource not found",
                    "status": 404,
                    "detail": "No action with code '9.9.9.9'.",
                    "instance": "/v1/actions/9.9.9.9",
                }
            ]
        }
    )

    type: str = Field(
        default="about:blank", description="URI reference identifying the problem type."
    )
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[InvalidField] | None = Field(
        default=None,
        description="Each invalid parameter or field, when the problem is a validation one.",
    )


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = problem.model_dump(exclude_none=True)
    return Response(
        content=orjson.dumps(body),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    descriptions = {
        400: "A parameter is unknown, repeated or malformed.",
        401: "No API key, or a malformed, unknown or revoked one.",
        403: "The API key lacks the scope this operation needs.",
        404: "No such resource.",
        412: "The resource changed since the given ETag.",
        422: "The body does not match the schema.",
        503: "The database does not answer.",
    }
    return {
        status: {
            # The OpenAPI hook in app.main moves this model to application/problem+json.
            "model": Problem,
            "description": descriptions.get(status, "Error"),
        }
        for status in statuses
    }
