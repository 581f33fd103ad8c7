"""The search text as PostgreSQL's web-search parser reads it: whatever a client types parses."""

import random

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.search_terms import tsquery, websearch_text

# What the parser treats specially, and a few words (one a stop word) to hang them on.
PIECES = ("-", " ", '"', "!", "&", "|", "(", ")", "<", "<->", ":*", "or", "OR", "\\", "'", ":")
WORDS = ("bus", "de", "rénovation", "x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-" * 100 + "bus", " bus"),
        ("--bus", " bus"),
        ("- - -bus", "-bus"),
        ("-!-(-bus", "-bus"),
        ("tram -bus", "tram -bus"),
        ("a-b", "a-b"),  # inside a word: not an operator
        ("a--b", "a--b"),
        ('"-"-', '"-"-'),
    ],
)
def test_runs_of_negations_reduce_to_their_meaning(text: str, expected: str) -> None:
    assert websearch_text(text) == expected


async def test_any_text_parses(session: AsyncSession) -> None:
    """A few hundred random strings of operators, quotes and words, up to the 200 characters a
    search accepts: each one parses (no 'tsquery stack too small', no syntax error)."""
    rng = random.Random(6)
    texts = ["-" * 199 + "x", "- " * 99 + "x", "x " + "-" * 198, '"' + "-" * 198 + '"']
    for _ in range(400):
        pieces = [rng.choice(PIECES + WORDS) for _ in range(rng.randint(1, 120))]
        texts.append("".join(pieces)[:200])
    for text in texts:
        result = await session.execute(select(func.numnode(tsquery(text))))
        assert result.scalar_one() >= 0, text
