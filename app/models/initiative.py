"""Initiatives: geolocated projects and proposals of residents and local actors."""

import enum
from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import BYTEA
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin
from app.models.plan import SEARCH_VECTOR


class InitiativeStatus(enum.StrEnum):
    """Moderation workflow: submitted → published | rejected; published → archived."""

    submitted = "submitted"
    published = "published"
    rejected = "rejected"
    archived = "archived"


class ModerationReason(enum.StrEnum):
    """Why a moderator rejected (or archived) an initiative; the proposer can read it."""

    spam = "spam"
    duplicate = "duplicate"
    out_of_scope = "out_of_scope"  # not on the territory, or not the territory's business
    incomplete = "incomplete"
    inappropriate = "inappropriate"
    other = "other"


class LocationPrecision(enum.StrEnum):
    """How precisely the geometry places the initiative."""

    exact = "exact"
    address = "address"
    commune = "commune"  # a point on the commune's surface: the place itself is not known


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value.value}'" for value in values) + ")"


class Initiative(TimestampMixin, Base):
    __tablename__ = "initiative"
    __table_args__ = (
        CheckConstraint(_in("status", InitiativeStatus), name="status_known"),
        CheckConstraint(_in("location_precision", LocationPrecision), name="precision_known"),
        CheckConstraint(
            "moderation_reason IS NULL OR " + _in("moderation_reason", ModerationReason),
            name="reason_known",
        ),
        CheckConstraint(
            "ST_IsValid(geometry) AND NOT ST_IsEmpty(geometry) "
            "AND GeometryType(geometry) IN ('POINT', 'LINESTRING', 'POLYGON')",
            name="geometry_valid",
        ),
        CheckConstraint(
            "status NOT IN ('published', 'archived') OR published_at IS NOT NULL",
            name="published_dated",
        ),
        CheckConstraint("support_count >= 0", name="support_count_positive"),
        # Published rows only, as every public query asks: a proposal costs no indexing here.
        Index(
            "ix_initiative_geometry",
            "geometry",
            postgresql_using="gist",
            postgresql_where=text("status = 'published'"),
        ),
        # What vector tiles select with (alembic 0013).
        Index(
            "ix_initiative_geometry_mercator",
            "geometry_mercator",
            postgresql_using="gist",
            postgresql_where=text("status = 'published'"),
        ),
        Index("ix_initiative_updated_at", "updated_at", "id"),
        # The moderation queue: one status, oldest first.
        Index("ix_initiative_moderation_queue", "status", "created_at", "id"),
        Index(
            "ix_initiative_search",
            text(SEARCH_VECTOR),
            postgresql_using="gin",
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The dataset's own key for the record, so that loading a dataset again updates it in place.
    reference: Mapped[str | None] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(
        ForeignKey("axis.code", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="submitted")
    commune_insee: Mapped[str | None] = mapped_column(
        ForeignKey("commune.insee", ondelete="RESTRICT"), index=True
    )
    location_precision: Mapped[str] = mapped_column(Text, nullable=False)
    author_name: Mapped[str | None] = mapped_column(Text)
    # Private: how to reach the proposer. Never selected by a public query.
    contact: Mapped[str | None] = mapped_column(Text)
    source_excerpt: Mapped[str | None] = mapped_column(Text)
    # As the proposer wrote it. Public once published, like the geometry it helped place.
    address: Mapped[str | None] = mapped_column(Text)
    # Private: SHA-256 of the token of the status link returned to the proposer at submission.
    status_token_digest: Mapped[bytes | None] = mapped_column(BYTEA, unique=True)
    # The moderation's outcome, readable by the proposer through the status link.
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    moderation_message: Mapped[str | None] = mapped_column(Text)
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Public: how many supporters (app/models/proposals.py), kept by a trigger on `support`.
    support_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    geometry: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False
    )
    # The same in Web Mercator, kept by PostgreSQL, for vector tiles; never loaded by the ORM.
    geometry_mercator: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=3857, spatial_index=False),
        Computed("ST_Transform(geometry, 3857)", persisted=True),
        deferred=True,
    )


# Linked by the action's permanent public code, so that publishing an initiative's actions reads
# this table alone (an index-only scan), without a join.
initiative_action = Table(
    "initiative_action",
    Base.metadata,
    Column("initiative_id", ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "action_code",
        Text,
        ForeignKey("action.code", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)
