"""Tables. Importing this package registers every table on Base.metadata (Alembic reads it)."""

from app.models.base import Base
from app.models.club import ActionComment, ActionRating, CommentReport, Member, MemberFollow
from app.models.commune import Commune
from app.models.editing import Deletion
from app.models.follow_up import (
    BudgetLine,
    Indicator,
    IndicatorValue,
    Milestone,
    indicator_action,
    indicator_ambition,
    indicator_objective,
)
from app.models.initiative import Initiative, initiative_action
from app.models.participation import ApiKey, AuditLog, Scope
from app.models.plan import Action, Ambition, Axis, Objective, action_commune
from app.models.proposals import IdempotencyRecord, Support
from app.models.publication import ChangeLog, DatasetVersion
from app.models.territory import Territory
from app.models.webhooks import DeliveryState, WebhookDelivery, WebhookSubscription

__all__ = [
    "Action",
    "ActionComment",
    "ActionRating",
    "Ambition",
    "ApiKey",
    "AuditLog",
    "Axis",
    "Base",
    "BudgetLine",
    "ChangeLog",
    "CommentReport",
    "Commune",
    "DatasetVersion",
    "Deletion",
    "DeliveryState",
    "IdempotencyRecord",
    "Indicator",
    "IndicatorValue",
    "Initiative",
    "Member",
    "MemberFollow",
    "Milestone",
    "Objective",
    "Scope",
    "Support",
    "Territory",
    "WebhookDelivery",
    "WebhookSubscription",
    "action_commune",
    "indicator_action",
    "indicator_ambition",
    "indicator_objective",
    "initiative_action",
]
