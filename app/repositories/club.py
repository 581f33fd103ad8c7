"""The club's tables: members, follows, comments, reports, ratings."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.club import (
    ActionComment,
    ActionRating,
    CommentReport,
    CommentStatus,
    Member,
    MemberFollow,
    MemberStatus,
)
from app.models.commune import Commune
from app.models.initiative import Initiative
from app.models.plan import Action, Axis, Objective

# --- members -----------------------------------------------------------------------------------


async def member_by_email(session: AsyncSession, email: str) -> Member | None:
    query = select(Member).where(func.lower(Member.email) == email.lower()).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def insert_member(session: AsyncSession, **values: Any) -> Member:
    member = Member(**values)
    session.add(member)
    await session.flush()
    return member


async def member_by(
    session: AsyncSession, column: str, value: bytes | str, *, lock: bool = True
) -> Member | None:
    """The member whose `column` holds `value`, locked for an update unless `lock` is false."""
    query = select(Member).where(getattr(Member, column) == value)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def erase_member(session: AsyncSession, member_id: int) -> None:
    """Remove the personal data for good; the row stays for the contributions' sake."""
    await session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(
            email=None,
            display_name=None,
            commune_insee=None,
            token_digest=None,
            confirm_digest=None,
            unsubscribe_token=None,
            status=MemberStatus.deleted.value,
            digest_frequency="never",
            deleted_at=func.now(),
        )
    )
    await session.execute(delete(MemberFollow).where(MemberFollow.member_id == member_id))


async def member_counts(session: AsyncSession) -> list[tuple[str, str | None, int]]:
    """(profile type, commune, active members): no one is named."""
    query = (
        select(Member.profile_type, Member.commune_insee, func.count())
        .where(Member.status == MemberStatus.active.value)
        .group_by(Member.profile_type, Member.commune_insee)
        .order_by(Member.profile_type, Member.commune_insee)
    )
    return [(str(p), c, int(n)) for p, c, n in await session.execute(query)]


# --- follows -----------------------------------------------------------------------------------

_TARGETS: dict[str, Any] = {
    "action": Action.code,
    "objective": Objective.code,
    "axis": Axis.code,
    "commune": Commune.insee,
}


async def target_exists(session: AsyncSession, target_type: str, key: str) -> bool:
    if target_type == "initiative":
        if not key.isdigit() or len(key) > 18:
            return False
        query = select(Initiative.id).where(
            Initiative.id == int(key), Initiative.status.in_(("published", "archived"))
        )
    else:
        column = _TARGETS[target_type]
        query = select(column).where(column == key)
    return (await session.execute(query)).first() is not None


async def follow(session: AsyncSession, member_id: int, target_type: str, key: str) -> None:
    await session.execute(
        insert(MemberFollow)
        .values(member_id=member_id, target_type=target_type, target_key=key)
        .on_conflict_do_nothing()
    )


async def unfollow(session: AsyncSession, member_id: int, target_type: str, key: str) -> None:
    await session.execute(
        delete(MemberFollow).where(
            MemberFollow.member_id == member_id,
            MemberFollow.target_type == target_type,
            MemberFollow.target_key == key,
        )
    )


async def follows(session: AsyncSession, member_id: int) -> Sequence[MemberFollow]:
    query = (
        select(MemberFollow)
        .where(MemberFollow.member_id == member_id)
        .order_by(MemberFollow.target_type, MemberFollow.target_key)
    )
    return (await session.execute(query)).scalars().all()


# --- comments and ratings ----------------------------------------------------------------------


async def action_state(session: AsyncSession, code: str) -> tuple[bool, str | None]:
    """Whether the action exists, and its status (None when unknown)."""
    found = (await session.execute(select(Action.status).where(Action.code == code))).first()
    return (False, None) if found is None else (True, found[0])


async def comment(session: AsyncSession, comment_id: int, *, lock: bool = False) -> Any:
    query = select(ActionComment).where(ActionComment.id == comment_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def recent_comments(session: AsyncSession, member_id: int, since: datetime) -> int:
    query = select(func.count()).where(
        ActionComment.member_id == member_id, ActionComment.created_at >= since
    )
    return int(await session.scalar(query) or 0)


async def oldest_recent_comment(session: AsyncSession, member_id: int, since: datetime) -> Any:
    query = select(func.min(ActionComment.created_at)).where(
        ActionComment.member_id == member_id, ActionComment.created_at >= since
    )
    return await session.scalar(query)


async def insert_comment(session: AsyncSession, **values: Any) -> ActionComment:
    found = ActionComment(**values)
    session.add(found)
    await session.flush()
    await session.refresh(found)
    return found


async def published_comments(session: AsyncSession, action_code: str) -> list[dict[str, Any]]:
    """Published comments of an action, oldest first, each with its author's public face: the
    display name while the member exists, nothing once erased."""
    query = (
        select(
            ActionComment.id,
            ActionComment.parent_id,
            ActionComment.body,
            ActionComment.published_at,
            Member.display_name,
            Member.profile_type,
            Member.status,
        )
        .join(Member, Member.id == ActionComment.member_id)
        .where(
            ActionComment.action_code == action_code,
            ActionComment.status == CommentStatus.published.value,
        )
        .order_by(ActionComment.id)
    )
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def add_report(
    session: AsyncSession, comment_id: int, member_id: int, reason: str | None
) -> bool:
    """A member's report (once); True when it is new."""
    result = await session.execute(
        insert(CommentReport)
        .values(comment_id=comment_id, member_id=member_id, reason=reason)
        .on_conflict_do_nothing()
        .returning(CommentReport.comment_id)
    )
    if result.first() is None:
        return False
    await session.execute(
        update(ActionComment)
        .where(ActionComment.id == comment_id)
        .values(report_count=ActionComment.report_count + 1)
    )
    return True


async def set_comment_status(
    session: AsyncSession, comment_id: int, status: CommentStatus, *, moderated: bool
) -> None:
    values: dict[str, Any] = {"status": status.value}
    if status is CommentStatus.published:
        values["published_at"] = func.coalesce(ActionComment.published_at, func.now())
    if moderated:
        values["moderated_at"] = func.now()
    await session.execute(
        update(ActionComment).where(ActionComment.id == comment_id).values(**values)
    )


async def comment_queue(session: AsyncSession, limit: int) -> Sequence[ActionComment]:
    query = (
        select(ActionComment)
        .where(ActionComment.status == CommentStatus.submitted.value)
        .order_by(ActionComment.report_count.desc(), ActionComment.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def rate(session: AsyncSession, action_code: str, member_id: int, relevance: int) -> None:
    statement = insert(ActionRating).values(
        action_code=action_code, member_id=member_id, relevance=relevance
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["action_code", "member_id"],
            set_={"relevance": statement.excluded.relevance, "updated_at": func.now()},
        )
    )


async def rating_summary(session: AsyncSession, action_code: str) -> dict[int, int]:
    query = (
        select(ActionRating.relevance, func.count())
        .where(ActionRating.action_code == action_code)
        .group_by(ActionRating.relevance)
    )
    return {int(r): int(n) for r, n in await session.execute(query)}


# --- digests -----------------------------------------------------------------------------------


# Whether the row `member` is due for a digest (also read by the queue gauges of /metrics).
MEMBER_DUE = """
    member.status = 'active' AND member.digest_frequency <> 'never'
    AND EXISTS (SELECT 1 FROM member_follow f WHERE f.member_id = member.id)
    AND (member.digest_frequency = 'immediate'
         OR member.last_digest_at IS NULL
         OR (member.digest_frequency = 'daily'
             AND member.last_digest_at <= now() - interval '1 day')
         OR (member.digest_frequency = 'weekly'
             AND member.last_digest_at <= now() - interval '7 days'))
"""


async def members_due(session: AsyncSession) -> list[int]:
    """Active members whose digest is due: immediate ones always, daily ones after a day,
    weekly ones after a week."""
    query = f"SELECT id FROM member WHERE {MEMBER_DUE} ORDER BY id"  # noqa: S608 (fixed text)
    result = await session.execute(text(query))
    return [int(row) for row in result.scalars()]


async def lock_member(session: AsyncSession, member_id: int) -> Member | None:
    query = (
        select(Member)
        .where(Member.id == member_id, Member.status == MemberStatus.active.value)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()
