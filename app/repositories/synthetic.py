"""A synthetic set of initiatives, generated inside PostgreSQL, for load tests and benchmarks.

Points are drawn at random inside each commune (ST_GeneratePoints), as many per commune as its
share of the territory's area; every 50th record is a short LineString and every 50th a small
Polygon around its point. About one in eight is not published (submitted, rejected, archived).
References start with `synthetic-`, so the set can be told apart and removed.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PREFIX = "synthetic-"

_DESCRIPTIONS = [
    "Proposition d'habitants pour un jardin partagé au pied des immeubles du quartier.",
    "Aménager une piste cyclable sécurisée entre l'école et la salle des sports.",
    "Installer des bancs et de l'ombre le long du chemin qui longe le terril.",
    "Créer un point de collecte pour le réemploi des objets et des meubles.",
    "Ouvrir un atelier numérique pour les jeunes le mercredi après-midi.",
    "Planter une haie champêtre et des arbres fruitiers sur la friche communale.",
    "Relier le centre-bourg à la gare par un cheminement piéton éclairé.",
    "Organiser un marché de producteurs locaux en circuit court chaque mois.",
]

_GENERATE = text(
    """
    WITH shares AS (
        SELECT insee, boundary,
            ceil(CAST(:count AS bigint) * ST_Area(boundary::geography)
                / sum(ST_Area(boundary::geography)) OVER ())::int AS n
        FROM commune
    ), points AS (
        SELECT insee, (ST_Dump(ST_GeneratePoints(boundary, n, CAST(:seed AS int)))).geom AS point
        FROM shares WHERE n > 0
    ), numbered AS (
        SELECT row_number() OVER (ORDER BY insee) AS n, insee, point FROM points
        LIMIT CAST(:count AS bigint)
    ), made AS (
        SELECT n, insee,
            CASE
                WHEN n % 50 = 0 THEN ST_MakeLine(point, ST_Translate(point, 0.002, 0.001))
                WHEN n % 50 = 1 THEN ST_Buffer(point, 0.0007, 'quad_segs=2')
                ELSE point
            END AS geometry,
            CASE
                WHEN n % 20 = 0 THEN 'submitted'
                WHEN n % 20 = 1 THEN 'rejected'
                WHEN n % 40 = 2 THEN 'archived'
                ELSE 'published'
            END AS status,
            now() - (n % 5000) * interval '37 minutes' AS moment
        FROM numbered
    )
    INSERT INTO initiative (
        reference, title, description, category, status, commune_insee, location_precision,
        author_name, geometry, published_at, created_at, updated_at
    )
    SELECT
        :prefix || n,
        'Initiative synthétique n° ' || n,
        (CAST(:descriptions AS text[]))[1 + n % 8],
        CAST(1 + n % 5 AS text),
        status,
        insee,
        CASE WHEN n % 7 = 0 THEN 'address' ELSE 'exact' END,
        'Habitant ' || (n % 997),
        geometry,
        CASE WHEN status IN ('published', 'archived') THEN moment END,
        moment - interval '2 days',
        moment
    FROM made
    ORDER BY n
    """
)

_LINK = text(
    """
    INSERT INTO initiative_action (initiative_id, action_code)
    SELECT i.id, a.codes[1 + i.id % array_length(a.codes, 1)]
    FROM initiative AS i, (SELECT array_agg(code ORDER BY code) AS codes FROM action) AS a
    WHERE i.reference LIKE :pattern AND i.id % 5 = 0 AND array_length(a.codes, 1) > 0
    """
)


async def remove(session: AsyncSession) -> int:
    await session.execute(text("SET LOCAL territoire.audit = 'off'"))
    result = await session.execute(
        text("DELETE FROM initiative WHERE reference LIKE :pattern"), {"pattern": PREFIX + "%"}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def generate(session: AsyncSession, count: int, seed: int) -> tuple[int, int]:
    """Insert `count` synthetic initiatives; the number inserted and of action links made."""
    await session.execute(text("SET LOCAL synchronous_commit = off"))
    await session.execute(text("SET LOCAL statement_timeout = 0"))
    # Made-up rows for load tests: not worth an audit trail of a million entries.
    await session.execute(text("SET LOCAL territoire.audit = 'off'"))
    inserted = await session.execute(
        _GENERATE,
        {"count": count, "seed": seed, "prefix": PREFIX, "descriptions": _DESCRIPTIONS},
    )
    linked = await session.execute(_LINK, {"pattern": PREFIX + "%"})
    return int(inserted.rowcount), int(linked.rowcount)  # type: ignore[attr-defined]
