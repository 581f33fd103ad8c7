"""What the publication layer records: every change to published data, and dataset versions.

Both tables are written only by database triggers (see the publication migration): the
application reads them and never writes them.
"""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

OPERATIONS = ("insert", "update", "delete")
# Written only by the triggers of other tables, in the same transaction: those notify the
# response cache already, so these do not.
TRIGGER_WRITTEN_TABLES = ("audit_log", "change_log", "dataset_version")
# Read by no public response, and written all the time: they do not notify either (idempotency
# records: see the proposals migration; webhook deliveries: the webhooks migration).
UNPUBLISHED_TABLES = ("idempotency_record", "webhook_delivery")


class ChangeLog(Base):
    """One row per inserted, updated or deleted row of a published table, in write order.

    `transaction_id` is the writing transaction's 64-bit id: the change feed orders by
    (transaction_id, id) and serves only transactions older than every running one, so that a
    position once passed never gains an entry.
    """

    __tablename__ = "change_log"
    __table_args__ = (
        CheckConstraint(
            "operation IN (" + ", ".join(f"'{op}'" for op in OPERATIONS) + ")",
            name="operation_known",
        ),
        Index("ix_change_log_position", "transaction_id", "id"),
        Index("ix_change_log_dataset_position", "dataset", "transaction_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    operation: Mapped[str] = mapped_column(Text, nullable=False)
    table_name: Mapped[str] = mapped_column(Text, nullable=False)
    dataset: Mapped[str] = mapped_column(Text, nullable=False)
    record_key: Mapped[str] = mapped_column(Text, nullable=False)
    # Who made the change, from the transaction-local setting `territoire.actor` (audit trail).
    actor: Mapped[str | None] = mapped_column(Text)


class DatasetVersion(Base):
    """Bumped once by every transaction that changes the dataset, in commit order."""

    __tablename__ = "dataset_version"

    dataset: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    modified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
