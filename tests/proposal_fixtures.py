"""Proposals made directly in the database, for tests that need one with a known status link."""

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A status token as the service issues them (43 URL-safe characters).
KNOWN_TOKEN = "T0kenOfATestProposal_abcdefghijklmnopqrstuv"
assert len(KNOWN_TOKEN) == 43


async def insert_proposal(
    session: AsyncSession,
    token: str = KNOWN_TOKEN,
    contact: str = "proposer-fixture@example.org",
    status: str = "submitted",
) -> int:
    """A proposal in the test's transaction (rolled back with it); its id."""
    return int(
        (
            await session.execute(
                text(
                    "INSERT INTO initiative (title, description, category, status, "
                    "location_precision, contact, status_token_digest, published_at, geometry) "
                    "VALUES ('Proposition de test', 'Description', '1', :status, 'exact', "
                    ":contact, :digest, CASE WHEN :status IN ('published', 'archived') "
                    "THEN now() END, ST_SetSRID(ST_MakePoint(2.83, 50.43), 4326)) RETURNING id"
                ),
                {
                    "status": status,
                    "contact": contact,
                    "digest": hashlib.sha256(token.encode()).digest(),
                },
            )
        ).scalar_one()
    )
