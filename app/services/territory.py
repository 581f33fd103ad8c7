"""The territory record with the figures a reader checks it against."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.models.plan import ACTION_STATUS_LABELS_FR, ActionStatus
from app.repositories import plan as plan_repository
from app.repositories import territory as repository
from app.schemas.territory import (
    CommuneSummary,
    Licence,
    SourceDocument,
    StatusCount,
    TerritoryOut,
)
from app.services.plan import figures, plan_counts

UNKNOWN_STATUS_LABEL_FR = "Non renseigné"


async def get_territory(session: AsyncSession) -> TerritoryOut:
    territory = await repository.get_territory(session)
    if territory is None:
        raise NotFoundError("No territory is loaded yet.")
    communes = await repository.commune_summary(session)
    context = await figures(session)
    statuses = await plan_repository.action_status_counts(session)
    bbox = (
        [communes["xmin"], communes["ymin"], communes["xmax"], communes["ymax"]]
        if communes["count"]
        else None
    )
    return TerritoryOut(
        siren=territory.siren,
        name=territory.name,
        short_name=territory.short_name,
        kind=territory.kind,
        website=territory.website,
        address=territory.address,
        phone=territory.phone,
        licence=Licence(
            title=territory.licence_title, url=territory.licence_url, spdx=territory.licence_spdx
        ),
        attribution=territory.attribution,
        source_document=SourceDocument(
            title=territory.source_title, publisher=territory.source_publisher
        ),
        plan_counts=plan_counts(territory, await plan_repository.count_nodes(session)),
        action_status_breakdown=[
            StatusCount(
                status=status,
                label_fr=(
                    ACTION_STATUS_LABELS_FR[ActionStatus(status)]
                    if status
                    else UNKNOWN_STATUS_LABEL_FR
                ),
                count=count,
            )
            for status, count in statuses
        ],
        communes=CommuneSummary(
            count=communes["count"],
            population=communes["population"],
            population_year=territory.population_year,
            bbox=bbox,
        ),
        progress=context.roll_up.territory,
        budget=context.territory_budget,
        synthetic=territory.synthetic,
        updated_at=territory.updated_at,
    )
