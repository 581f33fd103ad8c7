"""Conditions of the initiative list (`/v1/initiatives`), as SQL over the row alias `t`."""

import math

from app.repositories.features import Params
from app.repositories.plan import escape_like


def in_commune(params: Params, insee: str) -> str:
    return f"t.commune_insee = {params.add(insee, 'text')}"


def in_category(params: Params, axis_code: str) -> str:
    return f"t.category = {params.add(axis_code, 'text')}"


def linked_to_action(params: Params, action_code: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM initiative_action AS ia WHERE ia.initiative_id = t.id "
        f"AND ia.action_code = {params.add(action_code, 'text')})"
    )


def updated_since(params: Params, moment: object) -> str:
    return f"t.updated_at >= {params.add(moment, 'timestamptz')}"


def text_contains(params: Params, q: str) -> str:
    pattern = params.add("%" + escape_like(q) + "%", "text")
    return (
        f"(unaccent(t.title) ILIKE unaccent({pattern}) ESCAPE '\\' "
        f"OR unaccent(coalesce(t.description, '')) ILIKE unaccent({pattern}) ESCAPE '\\')"
    )


def degree_margins(latitude: float, metres: float) -> tuple[float, float]:
    """Degrees of longitude and latitude that cover at least `metres` around that latitude: a
    box that the spatial index can serve before the exact distance on the spheroid."""
    margin = metres * 1.01 + 1
    dlat = margin / 110_574.0
    dlon = margin / (111_320.0 * max(math.cos(math.radians(min(abs(latitude) + dlat, 89.9))), 1e-6))
    return dlon, dlat


def within_distance(params: Params, longitude: float, latitude: float, metres: float) -> str:
    """Within `metres` of a point (on the spheroid), with a box in degrees first for the index."""
    dlon, dlat = degree_margins(latitude, metres)
    x = params.add(longitude, "float8")
    y = params.add(latitude, "float8")
    point = f"ST_SetSRID(ST_MakePoint({x}, {y}), 4326)"
    return (
        f"t.geometry && ST_Expand({point}, {params.add(dlon, 'float8')}, "
        f"{params.add(dlat, 'float8')}) "
        f"AND ST_DWithin(t.geometry::geography, {point}::geography, "
        f"{params.add(metres, 'float8')})"
    )
