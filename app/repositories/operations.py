"""What the operators' gauges read: the depth and age of the webhook and digest queues."""

from app.db import Reader
from app.repositories.club import MEMBER_DUE

# One statement (one round trip, autocommit) for every queue gauge; ages in seconds.
_QUEUES = f"""
WITH webhook AS (
  SELECT count(*) AS depth, extract(epoch FROM now() - min(d.created_at)) AS age
  FROM webhook_delivery d
  JOIN webhook_subscription s ON s.id = d.subscription_id AND s.active
  WHERE d.state = 'pending'
), behind AS (
  SELECT cursor_transaction, cursor_sequence FROM webhook_subscription WHERE active
  ORDER BY cursor_transaction, cursor_sequence LIMIT 1
), fan_out AS (
  SELECT extract(epoch FROM now() - c.changed_at) AS lag
  FROM behind CROSS JOIN LATERAL (
    SELECT changed_at FROM change_log c
    WHERE (c.transaction_id, c.id) > (behind.cursor_transaction, behind.cursor_sequence)
    ORDER BY c.transaction_id, c.id LIMIT 1
  ) c
), digest AS (
  SELECT count(*) AS depth, extract(epoch FROM now() - min(c.changed_at)) AS age
  FROM member CROSS JOIN LATERAL (
    SELECT changed_at FROM change_log c
    WHERE (c.transaction_id, c.id)
          > (member.digest_cursor_transaction, member.digest_cursor_sequence)
    ORDER BY c.transaction_id, c.id LIMIT 1
  ) c
  WHERE {MEMBER_DUE}
)
SELECT webhook.depth AS webhook_queue_depth,
       coalesce(webhook.age, 0) AS webhook_queue_oldest_age_seconds,
       coalesce((SELECT lag FROM fan_out), 0) AS webhook_fan_out_lag_seconds,
       digest.depth AS digest_queue_depth,
       coalesce(digest.age, 0) AS digest_queue_oldest_age_seconds
FROM webhook, digest
"""  # noqa: S608 (a fixed condition, no value)


async def queue_stats(reader: Reader, seconds: float) -> dict[str, float]:
    row = await reader.fetchrow(_QUEUES, timeout=seconds)
    assert row is not None
    return {name: float(value) for name, value in row.items()}
