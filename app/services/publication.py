"""What the routes of the publication layer share: dataset descriptions, and which datasets a
URL's representation depends on (for HTTP validators)."""

import re

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.repositories import publication as repository
from app.repositories import territory as territory_repository
from app.schemas.publication import DatasetOut, DistributionOut
from app.services.catalog_vocabulary import FILE_FORMATS, Urls, dataset_identifier
from app.services.exports import MEDIA_TYPES, FiguresCache, figures
from app.services.registry import REGISTRY
from app.services.registry_spec import DatasetSpec

_EXPORT = re.compile(r"^/v1/datasets/([a-z][a-z0-9_]*)\.(csv|json|geojson)$")


# What each /v1/ representation shows, by path (first match wins). Every figure of the plan
# (progress, budget totals) rolls up actions, their milestones and budget lines through every
# level; the commune filters and names read the communes. Unsure means listed: a dataset missing
# here would make a changed representation answer 304.
_PLAN = ("territory", "communes", "axes", "ambitions", "objectives", "actions")
_FIGURES = (*_PLAN, "milestones", "budget_lines")
_INDICATORS = (*_PLAN, "indicators", "indicator_values")
# Initiatives name their category (an axis) and their actions by permanent codes only.
_INITIATIVES = ("communes", "initiatives")
_READS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern), tuple(sorted(set(datasets))))
    for pattern, datasets in (
        (r"^/v1/actions/[^/]+/history$", _PLAN),
        (r"^/v1/actions/[^/]+/budget(/[^/]+)?$", (*_PLAN, "budget_lines")),
        (r"^/v1/actions/[^/]+/milestones(/[^/]+)?$", (*_PLAN, "milestones")),
        (r"^/v1/actions/[^/]+$", (*_FIGURES, "indicators")),
        (r"^/v1/(plan|territory|budget|axes|ambitions|objectives|actions)(/[^/]+)?$", _FIGURES),
        (r"^/v1/indicators(/.*)?$", _INDICATORS),
        (r"^/v1/communes(/[^/]+)?$", ("territory", "communes")),
        (r"^/v1/initiatives(/[^/]+)?$", _INITIATIVES),
    )
)


# One node of the plan: an editor PATCHes it with If-Match, and a change of another node of the
# same dataset (another action) must not fail their precondition. Its ETag is that of its own
# representation (app.preconditions.representation_etags), not of the datasets' versions.
_OWN = re.compile(r"^/v1/(axes|ambitions|objectives|actions)/[^/]+$")


def own_validated(path: str) -> bool:
    """True for a /v1/ path whose ETag is that of its record's own representation."""
    return _OWN.match(path) is not None


def datasets_read(path: str) -> tuple[str, ...] | None:
    """The datasets whose data a /v1/ path's representation shows; None for any of them."""
    export = _EXPORT.match(path)
    if export:
        return (export.group(1),)
    if path.startswith("/v1/schemas/"):
        return ("territory",)  # the schema's title names the territory
    for pattern, datasets in _READS:
        if pattern.match(path):
            return datasets
    return None


def dataset_spec(identifier: str) -> DatasetSpec:
    spec = REGISTRY.get(identifier)
    if spec is None:
        known = ", ".join(REGISTRY.identifiers())
        raise NotFoundError(f"No dataset '{identifier}'; the datasets are: {known}.")
    return spec


def export_spec(identifier: str, fmt: str) -> DatasetSpec:
    spec = dataset_spec(identifier)
    if fmt not in spec.formats:
        raise NotFoundError(f"The dataset '{identifier}' has no geometry, hence no GeoJSON file.")
    return spec


async def describe(
    session: AsyncSession, cache: FiguresCache, base_url: str, specs: list[DatasetSpec]
) -> list[DatasetOut]:
    territory = await territory_repository.get_territory(session)
    if territory is None:
        raise NotFoundError("No territory is loaded yet.")
    urls = Urls(base_url.rstrip("/"))
    versions = {row.dataset: row for row in await repository.dataset_versions(session)}
    described = []
    for spec in specs:
        distributions = []
        for fmt in spec.formats:
            figure = await figures(session, cache, spec, fmt)
            distributions.append(
                DistributionOut(
                    format=fmt,
                    url=str(urls.download(spec.identifier, FILE_FORMATS[fmt].extension)),
                    media_type=MEDIA_TYPES[fmt],
                    byte_size=figure.byte_size,
                    sha256=figure.sha256,
                    sha1=figure.sha1,
                    schema_url=str(urls.schema(spec.identifier)) if fmt == "csv" else None,
                )
            )
        state = versions.get(spec.identifier)
        described.append(
            DatasetOut(
                identifier=spec.identifier,
                dct_identifier=dataset_identifier(territory, spec),
                title=spec.title.format(territory=territory.name),
                description=spec.description.format(territory=territory.name),
                keywords=list(spec.keywords),
                themes=[theme.uri for theme in spec.themes],
                key=spec.key,
                modified_at=state.modified_at if state else None,
                version=state.version if state else 0,
                distributions=distributions,
            )
        )
    return described
