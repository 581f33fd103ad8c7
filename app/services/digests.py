"""Members' digests: what changed in what they follow, by email, immediately, daily or weekly.

For each member due, the change-log entries after the member's cursor that concern what they
follow (an action and what belongs to it: milestones, budget lines, values of its indicators; an
objective or an axis and everything below it; a commune: its actions and initiatives; an
initiative), and the outcome of their own proposals, become one email with a plain-text and an
HTML part and an unsubscribe link that works without logging in. The email is sent before the
cursor moves (in the same transaction): a failure sends it again later, never loses it.
"""

import asyncio
import contextlib
import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Database
from app.models.club import Member
from app.outage import database_unavailable
from app.repositories import changes as change_repository
from app.repositories import club as repository
from app.services import mail
from app.services.changes import current_records
from app.services.club import new_token

logger = logging.getLogger(__name__)
MAX_LINES = 200
VERBS = {"insert": "nouveau", "update": "mis à jour", "delete": "supprimé"}
LABELS = {
    "axes": "Axe",
    "ambitions": "Ambition",
    "objectives": "Objectif",
    "actions": "Action",
    "milestones": "Jalon",
    "budget_lines": "Ligne budgétaire",
    "indicator_values": "Valeur d'indicateur",
    "communes": "Commune",
    "initiatives": "Initiative",
}

# Change-log entries after a position, below the horizon, concerning what a member follows.
_MATCHING = """
SELECT c.id, c.transaction_id, c.dataset, c.record_key, c.operation, c.changed_at
FROM change_log c
WHERE (c.transaction_id, c.id) > (:after_transaction, :after_sequence)
  AND c.transaction_id < {horizon}
  AND EXISTS (
    SELECT 1 FROM member_follow f
    WHERE f.member_id = :member AND (
      (f.target_type IN ('action', 'objective', 'axis')
       AND c.dataset IN ('axes', 'ambitions', 'objectives', 'actions')
       AND (c.record_key = f.target_key OR c.record_key LIKE f.target_key || '.%'))
      OR (f.target_type IN ('action', 'objective', 'axis')
          AND c.dataset IN ('milestones', 'budget_lines')
          AND (c.record_key LIKE f.target_key || '-%' OR c.record_key LIKE f.target_key || '.%'))
      OR (f.target_type IN ('action', 'objective', 'axis') AND c.dataset = 'indicator_values'
          AND EXISTS (SELECT 1 FROM indicator_value v
                      JOIN indicator_action l ON l.indicator_id = v.indicator_id
                      JOIN action a ON a.id = l.action_id
                      WHERE v.id::text = c.record_key
                        AND (a.code = f.target_key OR a.code LIKE f.target_key || '.%')))
      OR (f.target_type = 'commune' AND c.dataset = 'communes' AND c.record_key = f.target_key)
      OR (f.target_type = 'commune' AND c.dataset = 'initiatives'
          AND EXISTS (SELECT 1 FROM initiative i
                      WHERE i.id::text = c.record_key AND i.commune_insee = f.target_key))
      OR (f.target_type = 'commune' AND c.dataset = 'actions'
          AND EXISTS (SELECT 1 FROM action a JOIN action_commune ac ON ac.action_id = a.id
                      WHERE a.code = c.record_key AND ac.commune_insee = f.target_key))
      OR (f.target_type = 'initiative' AND c.dataset = 'initiatives'
          AND c.record_key = f.target_key)
    ))
ORDER BY c.transaction_id, c.id
LIMIT :limit
"""
_END = """
SELECT transaction_id, id FROM change_log WHERE transaction_id < {horizon}
ORDER BY transaction_id DESC, id DESC LIMIT 1
"""
# The member's own proposals moderated since their last digest (matched on their address).
_OUTCOMES = """
SELECT title, status, moderation_reason, moderation_message, moderated_at FROM initiative
WHERE lower(contact) = lower(:email) AND moderated_at IS NOT NULL
  AND moderated_at > coalesce(:since, '-infinity'::timestamptz)
ORDER BY moderated_at
"""


@dataclass(frozen=True)
class Line:
    label: str
    key: str
    verb: str
    when: datetime
    title: str | None
    details: str | None


def _horizon_sql() -> str:
    return str(change_repository.horizon())


async def changes_for(session: AsyncSession, member: Member) -> tuple[list[Line], tuple[int, int]]:
    """The lines of the member's digest and the position to move the cursor to."""
    horizon = _horizon_sql()
    rows = (
        await session.execute(
            text(_MATCHING.format(horizon=horizon)),
            {
                "after_transaction": member.digest_cursor_transaction,
                "after_sequence": member.digest_cursor_sequence,
                "member": member.id,
                "limit": MAX_LINES + 1,
            },
        )
    ).all()
    if len(rows) > MAX_LINES:  # the rest goes in the next digest
        rows = rows[:MAX_LINES]
        end = (int(rows[-1].transaction_id), int(rows[-1].id))
    else:
        found = (await session.execute(text(_END.format(horizon=horizon)))).first()
        end = (
            (int(found[0]), int(found[1]))
            if found
            else (member.digest_cursor_transaction, member.digest_cursor_sequence)
        )
    keys: dict[str, list[str]] = {}
    for row in rows:
        if row.operation != "delete":
            keys.setdefault(row.dataset, []).append(row.record_key)
    records = await current_records(session, keys)
    # An action's progress is not in its published record (it is computed from its milestones
    # and indicators for the API); the digest reads the recorded one.
    if keys.get("actions"):
        progress = await session.execute(
            text("SELECT code, progress FROM action WHERE code = ANY(:codes)"),
            {"codes": keys["actions"]},
        )
        for code, value in progress:
            if code in records.get("actions", {}) and value is not None:
                records["actions"][code] = {**records["actions"][code], "progress": value}
    lines = []
    for row in rows:
        record = records.get(row.dataset, {}).get(row.record_key) or {}
        details = []
        if record.get("status"):
            details.append(f"statut : {record.get('status_label_fr') or record['status']}")
        if record.get("progress") is not None:
            details.append(f"avancement : {record['progress']} %")
        if record.get("value") is not None:
            details.append(f"valeur : {record['value']}")
        lines.append(
            Line(
                LABELS.get(row.dataset, row.dataset),
                row.record_key,
                VERBS.get(row.operation, row.operation),
                row.changed_at,
                record.get("title") or record.get("name"),
                ", ".join(details) or None,
            )
        )
    return lines, end


async def outcomes_for(session: AsyncSession, member: Member) -> list[str]:
    rows = await session.execute(
        text(_OUTCOMES), {"email": member.email, "since": member.last_digest_at}
    )
    found = []
    for title, status, reason, message, _ in rows:
        verdict = {"published": "publiée", "rejected": "refusée", "archived": "archivée"}.get(
            status, status
        )
        text_ = f"Votre proposition « {title} » a été {verdict}"
        if reason:
            text_ += f" (motif : {reason})"
        if message:
            text_ += f" : {message}"
        found.append(text_)
    return found


def compose(
    settings: Settings,
    member: Member,
    lines: list[Line],
    outcomes: list[str],
    unsubscribe_url: str,
) -> Any:
    plain = [f"Bonjour {member.display_name},", "", "Ce qui a changé dans ce que vous suivez :", ""]
    rich = [
        f"<p>Bonjour {html.escape(member.display_name or '')},</p>",
        "<p>Ce qui a changé dans ce que vous suivez :</p>",
        "<ul>",
    ]
    for line in lines:
        head = f"{line.label} {line.key}" + (f" « {line.title} »" if line.title else "")
        tail = f" ({line.details})" if line.details else ""
        when = line.when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        plain.append(f"- {head} : {line.verb}{tail}, le {when}")
        rich.append(
            f"<li>{html.escape(head)} : {html.escape(line.verb)}{html.escape(tail)}, le {when}</li>"
        )
    rich.append("</ul>")
    if outcomes:
        plain += ["", "Vos propositions :"] + [f"- {o}" for o in outcomes]
        rich += ["<p>Vos propositions :</p><ul>"]
        rich += [f"<li>{html.escape(o)}</li>" for o in outcomes]
        rich += ["</ul>"]
    plain += ["", f"Ne plus recevoir ces messages : {unsubscribe_url}"]
    rich.append(
        f'<p><a href="{html.escape(unsubscribe_url)}">Ne plus recevoir ces messages</a></p>'
    )
    email = mail.message(
        settings.smtp_from,
        member.email or "",
        f"Territoire : {len(lines) + len(outcomes)} nouveauté(s) dans ce que vous suivez",
        "\n".join(plain) + "\n",
        "\n".join(rich),
    )
    email["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email


async def send_digests(database: Database, settings: Settings) -> int:
    """One pass: a digest to every member due who has something new; how many were sent."""
    async with database.sessionmaker() as session:
        due = await repository.members_due(session)
    sent = 0
    base = (settings.public_base_url or "http://127.0.0.1:8000").rstrip("/")
    for member_id in due:
        async with database.sessionmaker() as session, session.begin():
            # One snapshot for the matching entries and the end position.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            member = await repository.lock_member(session, member_id)
            if member is None:
                continue
            lines, end = await changes_for(session, member)
            outcomes = await outcomes_for(session, member)
            member.digest_cursor_transaction, member.digest_cursor_sequence = end
            if not lines and not outcomes:
                continue
            if member.unsubscribe_token is None:
                member.unsubscribe_token = new_token()
            member.last_digest_at = datetime.now(UTC)
            email = compose(
                settings,
                member,
                lines,
                outcomes,
                f"{base}/v1/club/unsubscribe/{member.unsubscribe_token}",
            )
            if not await mail.send(settings, email):
                raise DigestNotSentError(member_id)
            sent += 1
    return sent


class DigestNotSentError(RuntimeError):
    """The SMTP server refused or did not answer: the transaction rolls back, nothing is lost."""


async def run_digests_loop(database: Database, settings: Settings, stop: asyncio.Event) -> None:
    """A pass every DIGEST_POLL_SECONDS until `stop`. A pass that fails (the database away, the
    SMTP server refusing) is retried after a short backoff: its cursors did not move, so no
    change is lost."""
    failures = 0
    while not stop.is_set():
        try:
            await send_digests(database, settings)
            failures = 0
            pause = settings.digest_poll_seconds
        except Exception as error:
            if database_unavailable(error) or isinstance(error, DigestNotSentError):
                logger.warning("digest pass failed, retrying: %s", type(error).__name__)
            else:
                logger.exception("digest pass failed, retrying")
            failures += 1
            pause = min(0.25 * 2**failures, 5.0, settings.digest_poll_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
