"""API keys, and the audit log every write appends to (see the participation migration)."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Scope(enum.StrEnum):
    """What a key may do. Reading public data needs no key at all."""

    editor = "editor"  # plan, indicators, values, budgets, milestones, initiatives
    moderator = "moderator"  # the moderation queue of public proposals
    admin = "admin"  # keys and the audit log


class ApiKey(Base):
    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint(
            "scopes <@ ARRAY[" + ", ".join(f"'{s.value}'" for s in Scope) + "]::text[] "
            "AND cardinality(scopes) > 0",
            name="scopes_known",
        ),
        CheckConstraint("length(name) BETWEEN 1 AND 200", name="name_length"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # The first characters of the key, to recognise it in a list (not enough to use it).
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    # SHA-256 of the whole key; the key itself is never stored.
    secret_digest: Mapped[bytes] = mapped_column(BYTEA, nullable=False, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Append-only: written by the audit_row trigger, never updated or deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("operation IN ('insert', 'update', 'delete')", name="operation_known"),
        Index("ix_audit_log_record", "table_name", "record_key", "id"),
        Index("ix_audit_log_actor", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # "key:<id>" for a key holder, "public" for an anonymous proposal, "cli" for the command line.
    actor: Mapped[str | None] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(Text, nullable=False)
    table_name: Mapped[str] = mapped_column(Text, nullable=False)
    record_key: Mapped[str] = mapped_column(Text, nullable=False)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
