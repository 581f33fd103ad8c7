"""The publishing body: one territory per deployment."""

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class Territory(TimestampMixin, Base):
    __tablename__ = "territory"
    __table_args__ = (
        CheckConstraint(r"siren ~ '^[0-9]{9}$'", name="siren_format"),
        # One deployment publishes one territory.
        Index("uq_territory_singleton", text("(true)"), unique=True),
    )

    siren: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    short_name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    licence_title: Mapped[str] = mapped_column(Text, nullable=False)
    licence_url: Mapped[str] = mapped_column(Text, nullable=False)
    licence_spdx: Mapped[str | None] = mapped_column(Text)
    attribution: Mapped[str] = mapped_column(Text, nullable=False)
    source_title: Mapped[str] = mapped_column(Text, nullable=False)
    source_publisher: Mapped[str | None] = mapped_column(Text)
    declared_axes: Mapped[int | None] = mapped_column(Integer)
    declared_ambitions: Mapped[int | None] = mapped_column(Integer)
    declared_objectives: Mapped[int | None] = mapped_column(Integer)
    declared_actions: Mapped[int | None] = mapped_column(Integer)
    declared_counts_excerpt: Mapped[str | None] = mapped_column(Text)
    population_year: Mapped[int | None] = mapped_column(Integer)
    # Made-up data (tests, benchmarks): never to be read as a real territory's plan.
    synthetic: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
