"""Tables. Importing this package registers every table on Base.metadata (Alembic reads it)."""

from app.models.base import Base
from app.models.commune import Commune
from app.models.plan import Action, Ambition, Axis, Objective, action_commune
from app.models.publication import ChangeLog, DatasetVersion
from app.models.territory import Territory

__all__ = [
    "Action",
    "Ambition",
    "Axis",
    "Base",
    "ChangeLog",
    "Commune",
    "DatasetVersion",
    "Objective",
    "Territory",
    "action_commune",
]
