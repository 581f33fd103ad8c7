"""The ambassadors' club: members, what they follow, their comments, reports and ratings."""

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import BYTEA
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ProfileType(enum.StrEnum):
    resident = "resident"
    entrepreneur = "entrepreneur"
    association = "association"
    public_actor = "public_actor"


class MemberStatus(enum.StrEnum):
    pending = "pending"  # joined, email not confirmed yet
    active = "active"
    deleted = "deleted"  # personal data erased; contributions kept as "former member"


class DigestFrequency(enum.StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"
    never = "never"  # unsubscribed


class FollowTarget(enum.StrEnum):
    action = "action"
    objective = "objective"
    axis = "axis"
    commune = "commune"
    initiative = "initiative"


class CommentStatus(enum.StrEnum):
    submitted = "submitted"
    published = "published"
    rejected = "rejected"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Member(Base):
    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint(_in("profile_type", ProfileType), name="profile_known"),
        CheckConstraint(_in("status", MemberStatus), name="status_known"),
        CheckConstraint(_in("digest_frequency", DigestFrequency), name="frequency_known"),
        CheckConstraint(
            "status = 'deleted' OR (email IS NOT NULL AND display_name IS NOT NULL)",
            name="identified",
        ),
        Index(
            "uq_member_email",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("email IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(Text)  # private: never listed publicly
    email: Mapped[str | None] = mapped_column(Text)  # private
    profile_type: Mapped[str] = mapped_column(Text, nullable=False)
    commune_insee: Mapped[str | None] = mapped_column(
        ForeignKey("commune.insee", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    confirm_digest: Mapped[bytes | None] = mapped_column(BYTEA, unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    token_digest: Mapped[bytes | None] = mapped_column(BYTEA, unique=True)
    # Only stops the emails, and goes in each: kept as is, unlike the other tokens.
    unsubscribe_token: Mapped[str | None] = mapped_column(Text, unique=True)
    digest_frequency: Mapped[str] = mapped_column(Text, nullable=False, server_default="daily")
    digest_cursor_transaction: Mapped[int] = mapped_column(BigInteger, nullable=False)
    digest_cursor_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_digest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MemberFollow(Base):
    __tablename__ = "member_follow"
    __table_args__ = (CheckConstraint(_in("target_type", FollowTarget), name="target_known"),)

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    target_type: Mapped[str] = mapped_column(Text, primary_key=True)
    target_key: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ActionComment(Base):
    __tablename__ = "action_comment"
    __table_args__ = (
        CheckConstraint(_in("status", CommentStatus), name="status_known"),
        CheckConstraint("length(body) BETWEEN 1 AND 4000", name="body_length"),
        Index("ix_action_comment_action", "action_code", "status", "id"),
        Index("ix_action_comment_member", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action_code: Mapped[str] = mapped_column(
        ForeignKey("action.code", ondelete="CASCADE", onupdate="CASCADE"), nullable=False
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), nullable=False
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_comment.id", ondelete="CASCADE")
    )
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="submitted")
    report_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CommentReport(Base):
    __tablename__ = "comment_report"

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("action_comment.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ActionRating(Base):
    __tablename__ = "action_rating"
    __table_args__ = (CheckConstraint("relevance BETWEEN 1 AND 5", name="relevance_range"),)

    action_code: Mapped[str] = mapped_column(
        ForeignKey("action.code", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    relevance: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
