"""Tables. Importing this package registers every table on Base.metadata (Alembic reads it)."""

from app.models.base import Base
from app.models.commune import Commune
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

__all__ = [
    "Action",
    "Ambition",
    "ApiKey",
    "AuditLog",
    "Axis",
    "Base",
    "BudgetLine",
    "ChangeLog",
    "Commune",
    "DatasetVersion",
    "IdempotencyRecord",
    "Indicator",
    "IndicatorValue",
    "Initiative",
    "Milestone",
    "Objective",
    "Scope",
    "Support",
    "Territory",
    "action_commune",
    "indicator_action",
    "indicator_ambition",
    "indicator_objective",
    "initiative_action",
]
