"""The ambassadors' club: joining (double opt-in), acting as a member, following, commenting on
actions (moderated), reporting comments, rating actions; and what is public of it."""

import hashlib
import html
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import (
    AuthenticationError,
    ConflictError,
    GoneError,
    InvalidBodyError,
    NotFoundError,
)
from app.models.club import (
    CommentStatus,
    DigestFrequency,
    FollowTarget,
    Member,
    MemberStatus,
)
from app.ratelimit import RateLimitedError
from app.repositories import club as repository
from app.repositories.webhooks import change_log_end
from app.services import mail

CONFIRMATION_LIFETIME = timedelta(hours=48)
MEMBER_TOKEN_PREFIX = "trm_"  # noqa: S105 - a prefix, not a secret
# Comments: at most this many per member in the window (a flood gets 429).
COMMENT_LIMIT = 5
COMMENT_WINDOW = timedelta(minutes=10)
# Reports by this many members send a published comment back to moderation.
REPORTS_TO_HIDE = 3
# An action is open to comments once launched.
NOT_LAUNCHED = ("planned",)
FORMER_MEMBER = "ancien membre"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


# --- joining -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    email: EmailMessage | None  # what to send once the transaction is committed


async def join(
    session: AsyncSession,
    *,
    display_name: str,
    email: str,
    profile_type: str,
    commune: str | None,
    base_url: str,
    settings: Settings,
) -> Joined:
    """Register a pending member and prepare the confirmation email. The answer is the same
    whether the address is new or not (no one learns who is a member); an active member is told
    by email instead, a pending one gets a new link."""
    if commune is not None and not await repository.target_exists(session, "commune", commune):
        raise InvalidBodyError({"commune": f"no commune with INSEE code {commune!r} here"})
    existing = await repository.member_by_email(session, email)
    if existing is not None and existing.status == MemberStatus.active.value:
        return Joined(
            _email(
                settings,
                email,
                "Vous êtes déjà membre du club des ambassadeurs",
                "Quelqu'un (vous, sans doute) a demandé à rejoindre le club des ambassadeurs "
                "avec cette adresse, qui en est déjà membre. Rien n'a changé.",
            )
        )
    token = new_token()
    expires = datetime.now(UTC) + CONFIRMATION_LIFETIME
    if existing is not None:  # pending: a new link replaces the old one
        existing.display_name = display_name
        existing.profile_type = profile_type
        existing.commune_insee = commune
        existing.confirm_digest = digest(token)
        existing.confirm_expires_at = expires
    else:
        cursor = await change_log_end(session)  # follows see changes from now on
        await repository.insert_member(
            session,
            display_name=display_name,
            email=email,
            profile_type=profile_type,
            commune_insee=commune,
            confirm_digest=digest(token),
            confirm_expires_at=expires,
            digest_cursor_transaction=cursor[0],
            digest_cursor_sequence=cursor[1],
        )
    link = f"{base_url}/v1/club/members/confirm/{token}"
    return Joined(
        _email(
            settings,
            email,
            "Confirmez votre adhésion au club des ambassadeurs",
            f"Bonjour {display_name},\n\nPour confirmer votre adhésion au club des "
            f"ambassadeurs du territoire, ouvrez ce lien dans les 48 heures :\n{link}\n\n"
            "Si vous n'avez rien demandé, ignorez ce message : rien ne sera enregistré.",
            link=link,
        )
    )


def _email(
    settings: Settings, to: str, subject: str, plain: str, link: str | None = None
) -> EmailMessage:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in plain.split("\n\n"))
    if link:
        paragraphs += f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>'
    return mail.message(settings.smtp_from, to, subject, plain, paragraphs)


@dataclass(frozen=True)
class Confirmed:
    member: Member
    token: str  # the personal token: shown once


async def confirm(session: AsyncSession, token: str) -> Confirmed:
    member = await repository.member_by(session, "confirm_digest", digest(token))
    if member is None:
        raise GoneError(
            "This confirmation link is not valid: it was used already, replaced by a newer "
            "one, or never existed. Join again to get a new link."
        )
    expires = member.confirm_expires_at
    if expires is None or expires < datetime.now(UTC):
        member.confirm_digest = None
        raise GoneError("This confirmation link has expired (48 hours). Join again.")
    personal = new_token(MEMBER_TOKEN_PREFIX)
    member.status = MemberStatus.active.value
    member.confirm_digest = None
    member.confirm_expires_at = None
    member.token_digest = digest(personal)
    member.unsubscribe_token = new_token()
    member.confirmed_at = datetime.now(UTC)
    await session.flush()
    return Confirmed(member, personal)


async def authenticate(session: AsyncSession, authorization: str | None) -> Member:
    """The active member an `Authorization: Bearer trm_…` header names; 401 otherwise."""
    if not authorization or not authorization.strip():
        raise AuthenticationError(
            "This operation needs a member token: send `Authorization: Bearer <token>` (given "
            "when you confirmed your membership).",
            error=None,
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(MEMBER_TOKEN_PREFIX) or len(token) > 100:
        raise AuthenticationError("The Authorization header must read `Bearer trm_…`.")
    # Not locked: every member request authenticates, most only read.
    member = await repository.member_by(session, "token_digest", digest(token), lock=False)
    if member is None or member.status != MemberStatus.active.value:
        raise AuthenticationError(
            "The member token is unknown, or its member unconfirmed or deleted."
        )
    return member


async def update(session: AsyncSession, member: Member, changes: dict[str, Any]) -> None:
    """Apply a partial update of the member's own account (null leaves a field as it is,
    but for the commune, which null clears)."""
    if "commune" in changes:
        commune = changes.pop("commune")
        if commune is not None and not await repository.target_exists(session, "commune", commune):
            raise InvalidBodyError({"commune": f"no commune with INSEE code {commune!r} here"})
        member.commune_insee = commune
    for name, value in changes.items():
        if value is not None:
            setattr(member, name, getattr(value, "value", value))
    await session.flush()


async def erase(session: AsyncSession, member: Member) -> None:
    await repository.erase_member(session, member.id)


async def unsubscribe(session: AsyncSession, token: str) -> None:
    member = await repository.member_by(session, "unsubscribe_token", token)
    if member is None:
        raise NotFoundError("No subscription for this link (the member may have left the club).")
    member.digest_frequency = DigestFrequency.never.value


async def statistics(session: AsyncSession) -> dict[str, Any]:
    rows = await repository.member_counts(session)
    profiles: Counter[str] = Counter()
    communes: Counter[str] = Counter()
    for profile, commune, count in rows:
        profiles[profile] += count
        communes[commune or "unknown"] += count
    return {
        "members": sum(profiles.values()),
        "by_profile_type": dict(sorted(profiles.items())),
        "by_commune": dict(sorted(communes.items())),
    }


# --- follows -------------------------------------------------------------------------------------


async def follow(session: AsyncSession, member: Member, target: FollowTarget, key: str) -> None:
    if not await repository.target_exists(session, target.value, key):
        raise NotFoundError(f"No {target.value} {key!r} to follow.")
    await repository.follow(session, member.id, target.value, key)


# --- comments and ratings ------------------------------------------------------------------------


async def _existing_action(session: AsyncSession, code: str) -> str | None:
    exists, status = await repository.action_state(session, code)
    if not exists:
        raise NotFoundError(f"No action {code!r}.")
    return status


async def _launched_action(session: AsyncSession, code: str) -> None:
    """An action open to opinions: any but a planned one (an unknown status is not known to
    be unlaunched)."""
    status = await _existing_action(session, code)
    if status in NOT_LAUNCHED:
        raise ConflictError(
            f"The action {code} is not launched yet (status {status!r}): opinions open once it is."
        )


async def comment(
    session: AsyncSession,
    member: Member,
    action_code: str,
    body: str,
    parent_id: int | None,
    settings: Settings,
) -> Any:
    await _launched_action(session, action_code)
    since = datetime.now(UTC) - COMMENT_WINDOW
    if await repository.recent_comments(session, member.id, since) >= COMMENT_LIMIT:
        oldest = await repository.oldest_recent_comment(session, member.id, since)
        wait = int((oldest + COMMENT_WINDOW - datetime.now(UTC)).total_seconds()) + 1
        raise RateLimitedError(
            f"At most {COMMENT_LIMIT} comments per {int(COMMENT_WINDOW.total_seconds() // 60)} "
            "minutes: wait before commenting again.",
            headers={"Retry-After": str(max(wait, 1))},
        )
    if parent_id is not None:
        parent = await repository.comment(session, parent_id)
        if parent is None or parent.action_code != action_code:
            raise InvalidBodyError({"parent_id": f"no comment {parent_id} on this action"})
        if parent.parent_id is not None:
            raise InvalidBodyError(
                {"parent_id": "is itself a reply: replies are one level deep; answer the first"}
            )
    published = settings.comment_moderation == "post"
    return await repository.insert_comment(
        session,
        action_code=action_code,
        member_id=member.id,
        parent_id=parent_id,
        body=body,
        status=(CommentStatus.published if published else CommentStatus.submitted).value,
        published_at=datetime.now(UTC) if published else None,
    )


def public_author(row: dict[str, Any]) -> dict[str, Any]:
    if row["status"] != MemberStatus.active.value:
        return {"name": FORMER_MEMBER, "profile_type": None}
    return {"name": row["display_name"], "profile_type": row["profile_type"]}


async def thread(session: AsyncSession, action_code: str) -> list[dict[str, Any]]:
    """Published comments of an action, threaded one level, oldest first."""
    await _existing_action(session, action_code)
    rows = await repository.published_comments(session, action_code)
    top: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, Any]] = {}
    for row in rows:
        item = {
            "id": row["id"],
            "body": row["body"],
            "published_at": row["published_at"],
            "author": public_author(row),
            "replies": [],
        }
        by_id[row["id"]] = item
        if row["parent_id"] is None:
            top.append(item)
        elif row["parent_id"] in by_id:
            by_id[row["parent_id"]]["replies"].append(item)
    return top


async def report(
    session: AsyncSession, member: Member, comment_id: int, reason: str | None
) -> None:
    found = await repository.comment(session, comment_id, lock=True)
    if found is None or found.status != CommentStatus.published.value:
        raise NotFoundError(f"No published comment {comment_id}.")
    if found.member_id == member.id:
        raise ConflictError("A member cannot report their own comment.")
    if await repository.add_report(session, comment_id, member.id, reason):
        await session.refresh(found)
        if found.report_count >= REPORTS_TO_HIDE:
            # Back to the moderators, hidden meanwhile.
            await repository.set_comment_status(
                session, comment_id, CommentStatus.submitted, moderated=False
            )


async def moderate(session: AsyncSession, comment_id: int, publish: bool) -> Any:
    found = await repository.comment(session, comment_id, lock=True)
    if found is None:
        raise NotFoundError(f"No comment {comment_id}.")
    status = CommentStatus.published if publish else CommentStatus.rejected
    await repository.set_comment_status(session, comment_id, status, moderated=True)
    await session.refresh(found)
    return found


async def rate(session: AsyncSession, member: Member, action_code: str, relevance: int) -> None:
    await _launched_action(session, action_code)
    await repository.rate(session, action_code, member.id, relevance)


async def rating_summary(session: AsyncSession, action_code: str) -> dict[str, Any]:
    await _existing_action(session, action_code)
    counts = await repository.rating_summary(session, action_code)
    total = sum(counts.values())
    mean = sum(r * n for r, n in counts.items()) / total if total else None
    return {
        "action": action_code,
        "ratings": total,
        "mean_relevance": round(mean, 2) if mean is not None else None,
        "distribution": {str(r): counts.get(r, 0) for r in range(1, 6)},
    }
