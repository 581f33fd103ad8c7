"""Deletions made through the editing API, each restorable from the audit log."""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Deletion(Base):
    """One DELETE of the API: the record named and the transaction that removed it (with what
    it cascaded to). The rows themselves are in audit_log, whose before-images restore them."""

    __tablename__ = "deletion"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    # Its rows are the audit entries of that transaction after this one (a transaction may
    # hold more than one deletion: the tests run each in one transaction).
    audit_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    table_name: Mapped[str] = mapped_column(Text, nullable=False)
    record_key: Mapped[str] = mapped_column(Text, nullable=False)
    # The public path the record had (what a client deleted).
    path: Mapped[str] = mapped_column(Text, nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    actor: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    restored_by: Mapped[str | None] = mapped_column(Text)
