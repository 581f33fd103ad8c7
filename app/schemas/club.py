"""The club as the API shows it: never a member's email or name in a public answer."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.models.club import DigestFrequency, ProfileType

DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Insee = Annotated[str, StringConstraints(pattern=r"^[0-9][0-9AB][0-9]{3}$")]


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[DisplayName, Field(description="Shown with your comments.")]
    email: Annotated[EmailStr, Field(max_length=254, description="Private; for the link only.")]
    profile_type: ProfileType
    commune: Annotated[Insee | None, Field(description="INSEE code of your commune.")] = None


class Accepted(BaseModel):
    detail: str


class MemberOut(BaseModel):
    """The member's own view of their account (never shown to anyone else)."""

    id: int
    display_name: str | None
    email: str | None
    profile_type: str
    commune: str | None
    digest_frequency: str
    confirmed_at: datetime | None


class Confirmation(BaseModel):
    member: MemberOut
    token: Annotated[
        str,
        Field(
            description="Your personal token: send `Authorization: Bearer <token>` to act as a "
            "member. Shown only now."
        ),
    ]


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    profile_type: ProfileType | None = None
    commune: Insee | None = None
    digest_frequency: DigestFrequency | None = None


class FollowOut(BaseModel):
    target_type: str
    target_key: str
    created_at: datetime


class ClubStatistics(BaseModel):
    members: int
    by_profile_type: dict[str, int]
    by_commune: dict[str, int]


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    parent_id: Annotated[int | None, Field(ge=1, le=2**63 - 1)] = None


class CommentCreated(BaseModel):
    id: int
    status: str
    action: str
    parent_id: int | None


class Author(BaseModel):
    name: str
    profile_type: str | None


class CommentOut(BaseModel):
    id: int
    body: str
    published_at: datetime | None
    author: Author
    replies: list["CommentOut"] = []


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, StringConstraints(max_length=500)] = None


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relevance: Annotated[int, Field(ge=1, le=5, description="1: not relevant … 5: very.")]


class RatingSummary(BaseModel):
    action: str
    ratings: int
    mean_relevance: float | None
    distribution: dict[str, int]


class QueuedComment(BaseModel):
    id: int
    action_code: str
    parent_id: int | None
    body: str
    status: str
    report_count: int
    created_at: datetime
