"""Public writes: a proposal (an initiative submitted for moderation) and a support."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.models.initiative import InitiativeStatus, ModerationReason
from app.schemas.common import ApiModel, GeometryMapping, _printable, code_pattern

TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}$"  # noqa: S105 (a pattern, not a secret)


# Texts are stored as given (no trimming): markup or SQL in them stays inert text.
Title = Annotated[str, StringConstraints(min_length=3, max_length=200), AfterValidator(_printable)]
LongText = Annotated[
    str, StringConstraints(min_length=1, max_length=5000), AfterValidator(_printable)
]
Address = Annotated[
    str, StringConstraints(min_length=1, max_length=300), AfterValidator(_printable)
]
PublicName = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_printable)
]
Supporter = Annotated[
    str, StringConstraints(min_length=6, max_length=320), AfterValidator(_printable)
]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field(examples=["Un jardin partagé rue des Écoles"])
    description: LongText = Field(
        examples=["Transformer la friche en jardin cultivé par les habitants du quartier."]
    )
    category: str = Field(
        pattern=code_pattern(1),
        max_length=7,
        description="Code of an axis of the plan.",
        examples=["4"],
    )
    geometry: GeometryMapping = Field(
        description="Valid, at most 5 000 vertices, within 2 km of the territory.",
        examples=[{"type": "Point", "coordinates": [2.8282, 50.4268]}],
    )
    address: Address | None = Field(
        default=None,
        description="Where it is, as the proposer writes it (public once published).",
        examples=["12 rue des Écoles, Lens"],
    )
    author_name: PublicName | None = Field(
        default=None,
        description="The name shown publicly with the proposal.",
        examples=["Camille D."],
    )
    contact_email: EmailStr = Field(
        max_length=254,
        description="Private: for the moderators to reach the proposer; never published.",
        examples=["camille@example.org"],
    )
    website: str | None = Field(
        default=None,
        max_length=500,
        description="Must stay empty; hidden in forms (a trap for robots).",
    )


class ProposalReceipt(ApiModel):
    id: int = Field(description="The initiative's id (public once published).")
    status: InitiativeStatus = Field(examples=["submitted"])
    submitted_at: datetime
    status_token: str = Field(
        description="Private: shown once, stored only as a hash. Keep it to follow the "
        "moderation at status_url."
    )
    status_url: str = Field(description="Private link to the proposal's status.")


class ProposalStatus(ApiModel):
    id: int
    title: str
    status: InitiativeStatus
    moderation_reason: ModerationReason | None = Field(
        description="Why it was rejected or archived, when it was."
    )
    moderation_message: str | None = Field(description="The moderator's message, if any.")
    submitted_at: datetime
    moderated_at: datetime | None
    published_at: datetime | None
    url: str | None = Field(description="Its public URL, while it is published.")


class SupportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supporter: Supporter = Field(
        description="Who supports: an email address, or an identifier the client generates "
        "once per person and keeps (at least 6 characters). Only an HMAC of it is stored, to "
        "count each supporter once; it is never published.",
        examples=["camille@example.org"],
    )


class SupportOut(ApiModel):
    initiative_id: int
    support_count: int = Field(ge=0, description="Supporters now counted.")
    counted: bool = Field(
        description="true when this support was added; false when this supporter was already "
        "counted (nothing changed)."
    )
