"""Editing indicators and the values of their series; one value read by its id."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from app.db import SessionDep
from app.routers.editing_base import CREATED, DELETED, MERGE_PATCH, PATCHED, EditDep
from app.routers.indicators import IndicatorCode
from app.routers.params import StrictQuery
from app.schemas.editing import (
    IndicatorCreate,
    IndicatorPatch,
    IndicatorValueOut,
    ValueCreate,
    ValuePatch,
)
from app.schemas.indicator import IndicatorDetail
from app.schemas.problem import problem_responses
from app.services import editing_indicators as service
from app.services import indicator as indicator_service

router = APIRouter(prefix="/v1", tags=["editing"], dependencies=[StrictQuery])

ValueId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The value's id.")]


# --- indicators ----------------------------------------------------------------------------------


@router.post(
    "/indicators",
    response_model=IndicatorDetail,
    status_code=201,
    summary="Create an indicator (editor)",
    responses=CREATED,
)
async def create_indicator(edit: EditDep, body: IndicatorCreate) -> Any:
    return await edit.create(
        partial(service.create_indicator, edit.session, body),
        lambda code: f"/v1/indicators/{code}",
        partial(indicator_service.get_indicator, edit.session),
    )


@router.patch(
    "/indicators/{code}",
    response_model=IndicatorDetail,
    summary="Change an indicator and what it measures (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_indicator(
    edit: EditDep,
    code: IndicatorCode,
    body: Annotated[IndicatorPatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    return await edit.patch(
        partial(service.check_indicator, edit.session, code),
        partial(service.update_indicator, edit.session, code, body),
        partial(indicator_service.get_indicator, edit.session, code),
    )


@router.delete(
    "/indicators/{code}",
    status_code=204,
    response_class=Response,
    summary="Delete an indicator with its values (editor; restorable)",
    responses=DELETED,
)
async def delete_indicator(edit: EditDep, code: IndicatorCode) -> Response:
    return await edit.delete(
        partial(service.check_indicator, edit.session, code),
        partial(service.delete_indicator, edit.session, code),
    )


# --- values --------------------------------------------------------------------------------------


@router.get(
    "/indicators/{code}/values/{value_id}",
    response_model=IndicatorValueOut,
    tags=["indicators"],
    summary="One value of an indicator",
    responses=problem_responses(400, 404),
)
async def get_indicator_value(code: IndicatorCode, value_id: ValueId, session: SessionDep) -> Any:
    return await service.get_value(session, code, value_id)


@router.post(
    "/indicators/{code}/values",
    response_model=IndicatorValueOut,
    status_code=201,
    summary="Add a value to an indicator's series (editor)",
    responses=CREATED,
)
async def create_indicator_value(edit: EditDep, code: IndicatorCode, body: ValueCreate) -> Any:
    return await edit.create(
        partial(service.create_value, edit.session, code, body),
        lambda value_id: f"/v1/indicators/{code}/values/{value_id}",
        partial(service.get_value, edit.session, code),
    )


@router.patch(
    "/indicators/{code}/values/{value_id}",
    response_model=IndicatorValueOut,
    summary="Change a value (editor; JSON merge patch, If-Match)",
    responses=PATCHED,
)
async def update_indicator_value(
    edit: EditDep,
    code: IndicatorCode,
    value_id: ValueId,
    body: Annotated[ValuePatch, Body(media_type=MERGE_PATCH)],
) -> Any:
    return await edit.patch(
        partial(service.check_value, edit.session, code, value_id),
        partial(service.update_value, edit.session, code, value_id, body),
        partial(service.get_value, edit.session, code, value_id),
    )


@router.delete(
    "/indicators/{code}/values/{value_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a value (editor; restorable)",
    responses=DELETED,
)
async def delete_indicator_value(edit: EditDep, code: IndicatorCode, value_id: ValueId) -> Response:
    return await edit.delete(
        partial(service.check_value, edit.session, code, value_id),
        partial(service.delete_value, edit.session, code, value_id),
    )
