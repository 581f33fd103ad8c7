"""Member communes, keyed by their INSEE code."""

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin

INSEE_PATTERN = r"^([0-9]{2}|2A|2B)[0-9]{3}$"


class Commune(TimestampMixin, Base):
    __tablename__ = "commune"
    __table_args__ = (
        CheckConstraint(f"insee ~ '{INSEE_PATTERN}'", name="insee_format"),
        CheckConstraint(r"siren IS NULL OR siren ~ '^[0-9]{9}$'", name="siren_format"),
        CheckConstraint("population IS NULL OR population >= 0", name="population_positive"),
        CheckConstraint("ST_IsValid(boundary)", name="boundary_valid"),
        Index("ix_commune_boundary", "boundary", postgresql_using="gist"),
    )

    insee: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    siren: Mapped[str | None] = mapped_column(Text)
    population: Mapped[int | None] = mapped_column(Integer)
    boundary: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
