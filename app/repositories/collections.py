"""The feature collections the service publishes: initiatives, communes, located actions.

Each property's SQL reads the row alias `t`. Only published rows are ever selected, and the
proposer's private contact is not a property: it cannot be selected, filtered or tiled.
"""

from typing import Any

from app.models.initiative import InitiativeStatus, LocationPrecision
from app.repositories.features import Collection, Property


def _string(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "type": "string", **extra}


def _timestamp(title: str) -> dict[str, Any]:
    return {"title": title, "type": "string", "format": "date-time"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _timestamps() -> dict[str, Property]:
    # json_build_object writes a timestamptz in RFC 3339 with the session's offset: the reader
    # connections run in UTC (app.db), so "+00:00".
    return {
        "created_at": Property("t.created_at", _timestamp("Created at"), kind="timestamp"),
        "updated_at": Property("t.updated_at", _timestamp("Updated at"), kind="timestamp"),
    }


# An index-only scan of the link table; codes in their natural order ("1.2" before "1.10").
INITIATIVE_ACTIONS = (
    "(SELECT coalesce(json_agg(ia.action_code "
    "ORDER BY string_to_array(ia.action_code, '.')::int[]), '[]'::json) "
    "FROM initiative_action AS ia WHERE ia.initiative_id = t.id)"
)

INITIATIVES = Collection(
    id="initiatives",
    title="Initiatives",
    description=(
        "Geolocated projects and proposals of residents and local actors, published after "
        "moderation. `location_precision` says how precisely the geometry places each one: "
        "'commune' means a point on the commune's surface, the place itself being unknown."
    ),
    source="initiative AS t LEFT JOIN commune AS c ON c.insee = t.commune_insee",
    where=f"t.status = '{InitiativeStatus.published.value}'",
    key="t.id",
    key_type="bigint",
    geometry="t.geometry",
    geometry_schema={
        "title": "Geometry",
        "format": "geometry-any",
        "x-ogc-role": "primary-geometry",
    },
    properties={
        "title": Property("t.title", _string("Title")),
        "description": Property("t.description", _nullable(_string("Description"))),
        "category": Property("t.category", _string("Axis of the plan (code)")),
        "status": Property("t.status", _string("Status", enum=["published"])),
        "commune": Property(
            "t.commune_insee", _nullable(_string("INSEE code of the commune it lies in"))
        ),
        "commune_name": Property(
            "c.name",
            _nullable(_string("Name of the commune")),
            queryable=False,
        ),
        "location_precision": Property(
            "t.location_precision",
            _string("Location precision", enum=[p.value for p in LocationPrecision]),
        ),
        "actions": Property(
            INITIATIVE_ACTIONS,
            {"title": "Codes of the actions it relates to", "type": "array"},
            queryable=False,
            kind="array",
        ),
        "address": Property("t.address", _nullable(_string("Address, as given"))),
        "author_name": Property("t.author_name", _nullable(_string("Public author name"))),
        "support_count": Property(
            "t.support_count", {"title": "Supports", "type": "integer"}, kind="integer"
        ),
        "source_excerpt": Property(
            "t.source_excerpt", _nullable(_string("Passage of the source document"))
        ),
        **_timestamps(),
        "published_at": Property("t.published_at", _timestamp("Published at"), kind="timestamp"),
        "id": Property(
            "t.id", {"title": "Identifier", "type": "integer"}, kind="integer", published=False
        ),
    },
    datetime_column="t.published_at",
    # What a map draws and labels; the id is the MVT feature id.
    tile_properties=("title", "category", "status"),
    tile_geometry="t.geometry_mercator",
)

COMMUNES = Collection(
    id="communes",
    title="Communes",
    description="The member communes of the territory with their boundaries.",
    source="commune AS t",
    where="TRUE",
    key="t.insee",
    key_type="text",
    geometry="t.boundary",
    geometry_schema={
        "title": "Boundary",
        "format": "geometry-multipolygon",
        "x-ogc-role": "primary-geometry",
    },
    properties={
        "insee": Property("t.insee", _string("INSEE code")),
        "name": Property("t.name", _string("Name")),
        "siren": Property("t.siren", _nullable(_string("SIREN"))),
        "population": Property(
            "t.population", {"title": "Population", "type": ["integer", "null"]}, kind="integer"
        ),
        "action_count": Property(
            "(SELECT count(*) FROM action_commune AS ac WHERE ac.commune_insee = t.insee)",
            {"title": "Actions concerning the commune", "type": "integer"},
            kind="integer",
        ),
        **_timestamps(),
    },
    datetime_column="t.updated_at",
    tile_properties=("insee", "name"),
    small=True,
)

# An action is located by its own geometry, else by the union of the communes it concerns.
ACTIONS_SOURCE = """(
    SELECT a.*, o.code AS objective_code,
        CASE WHEN a.geometry IS NOT NULL THEN 'geometry' ELSE 'communes' END AS location_source,
        coalesce(a.geometry, (
            SELECT ST_Multi(ST_Union(c.boundary)) FROM action_commune AS ac
            JOIN commune AS c ON c.insee = ac.commune_insee WHERE ac.action_id = a.id
        )) AS location
    FROM action AS a JOIN objective AS o ON o.id = a.objective_id
) AS t"""

ACTIONS = Collection(
    id="actions",
    title="Located actions",
    description=(
        "Actions of the plan that have a place: their own geometry, else the union of the "
        "communes they concern (`location_source` says which)."
    ),
    source=ACTIONS_SOURCE,
    where="t.location IS NOT NULL",
    key="t.code",
    key_type="text",
    geometry="t.location",
    geometry_schema={
        "title": "Location",
        "format": "geometry-any",
        "x-ogc-role": "primary-geometry",
    },
    properties={
        "code": Property("t.code", _string("Permanent code")),
        "title": Property("t.title", _string("Title")),
        "description": Property("t.description", _nullable(_string("Description"))),
        "status": Property("t.status", _nullable(_string("Status"))),
        "objective_code": Property("t.objective_code", _string("Operational objective (code)")),
        "location_source": Property(
            "t.location_source",
            _string("Where the location comes from", enum=["geometry", "communes"]),
        ),
        **_timestamps(),
    },
    datetime_column="t.updated_at",
    small=True,
)

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (INITIATIVES, COMMUNES, ACTIONS)}
TILED = ("initiatives", "communes")
