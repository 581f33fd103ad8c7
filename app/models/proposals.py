"""Supports of published initiatives, and the stored answers of idempotent writes."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import BYTEA
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Support(Base):
    """One supporter of one initiative: a trigger keeps initiative.support_count in step."""

    __tablename__ = "support"
    __table_args__ = (UniqueConstraint("initiative_id", "supporter_digest"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), nullable=False
    )
    # HMAC-SHA256 of the supporter's identity under the server's secret; never the identity.
    supporter_digest: Mapped[bytes] = mapped_column(BYTEA, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class IdempotencyRecord(Base):
    """A write's answer, replayed to a retry carrying the same `Idempotency-Key` (24 hours)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (Index("ix_idempotency_record_expires_at", "expires_at"),)

    route: Mapped[str] = mapped_column(Text, primary_key=True)
    key_digest: Mapped[bytes] = mapped_column(BYTEA, primary_key=True)  # SHA-256 of the key
    request_digest: Mapped[bytes] = mapped_column(BYTEA, nullable=False)  # SHA-256 of the body
    # Null while the write that claimed the key is running (its transaction holds the row).
    status_code: Mapped[int | None] = mapped_column(Integer)
    # Sealed (AES-GCM) with a key derived from the Idempotency-Key and the server's secret.
    response: Mapped[bytes | None] = mapped_column(BYTEA)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
