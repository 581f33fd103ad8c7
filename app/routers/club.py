"""The ambassadors' club: membership, follows, opinions on actions, their moderation.

Everything under /v1/club/ is validated by body (its data has no dataset version) and never
kept in the response cache; what concerns one member needs their token and is private.
"""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import MemberDep, ModeratorDep
from app.db import SessionDep
from app.models.club import FollowTarget, Member
from app.repositories import club as repository
from app.routers import convertors  # noqa: F401 - registers {…:id}
from app.routers.params import StrictQuery
from app.schemas.club import (
    Accepted,
    ClubStatistics,
    CommentCreated,
    CommentIn,
    CommentOut,
    Confirmation,
    FollowOut,
    JoinIn,
    MemberOut,
    MemberPatch,
    QueuedComment,
    RatingIn,
    RatingSummary,
    ReportIn,
)
from app.schemas.problem import problem_responses
from app.services import club as service
from app.services import mail

router = APIRouter(prefix="/v1/club", tags=["club"], dependencies=[StrictQuery])

ActionCode = Annotated[
    str, Path(pattern=r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$", description="An action's code.")
]
Token = Annotated[
    str,
    Path(
        min_length=20,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        examples=["Ue3v0Jx8cQm2bW4kT9yHs1nLrA6pZ5dGfE7iKoMuNjV"],
    ),
]
TargetKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=r"^[0-9A-Za-z.]+$",
        description="The code of the action, objective or axis; the INSEE code of the commune; "
        "the id of the initiative.",
    ),
]
CommentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
NO_STORE = {"Cache-Control": "no-store"}
JOINED = (
    "If this address can join, a confirmation link has been sent to it; open it within 48 "
    "hours to become a member."
)


def _base_url(request: Request) -> str:
    configured = request.app.state.settings.public_base_url
    return str(configured or request.base_url).rstrip("/")


def _me(member: Member) -> MemberOut:
    return MemberOut(
        id=member.id,
        display_name=member.display_name,
        email=member.email,
        profile_type=member.profile_type,
        commune=member.commune_insee,
        digest_frequency=member.digest_frequency,
        confirmed_at=member.confirmed_at,
    )


@router.post(
    "/members",
    status_code=202,
    response_model=Accepted,
    summary="Join the club (a confirmation link is emailed)",
    description="Double opt-in: the membership starts when the link sent to the address is "
    "opened. The answer is the same whether the address is new, pending or already a member.",
    responses=problem_responses(422),
)
async def join(
    request: Request, body: JoinIn, session: SessionDep, background: BackgroundTasks
) -> Accepted:
    settings = request.app.state.settings
    joined = await service.join(
        session,
        display_name=body.display_name,
        email=str(body.email),
        profile_type=body.profile_type.value,
        commune=body.commune,
        base_url=_base_url(request),
        settings=settings,
    )
    if joined.email is not None:  # sent after the commit (the session commits first)
        background.add_task(mail.send, settings, joined.email)
    return Accepted(detail=JOINED)


@router.get(
    "/members/confirm/{token}",
    response_model=Confirmation,
    summary="Confirm a membership (the emailed link)",
    description="Activates the membership and returns the member's personal token, once. A "
    "link already used, replaced or older than 48 hours is a 410.",
    responses=problem_responses(410),
)
async def confirm(token: Token, session: SessionDep, response: Response) -> Confirmation:
    confirmed = await service.confirm(session, token)
    response.headers.update(NO_STORE)
    return Confirmation(member=_me(confirmed.member), token=confirmed.token)


@router.get(
    "/members/me",
    response_model=MemberOut,
    summary="Your account",
    responses=problem_responses(401),
)
async def me(member: MemberDep) -> MemberOut:
    return _me(member)


@router.patch(
    "/members/me",
    response_model=MemberOut,
    summary="Update your account (name, profile, commune, digest frequency)",
    responses=problem_responses(401, 422),
)
async def update_me(member: MemberDep, body: MemberPatch, session: SessionDep) -> MemberOut:
    await service.update(session, member, body.model_dump(exclude_unset=True))
    return _me(member)


@router.delete(
    "/members/me",
    status_code=204,
    summary="Leave the club: your personal data is erased",
    description="Your email and name are erased at once; your published comments stay, "
    "signed « ancien membre »; your follows and ratings' link to you go.",
    responses=problem_responses(401),
)
async def leave(member: MemberDep, session: SessionDep) -> Response:
    await service.erase(session, member)
    return Response(status_code=204)


@router.get(
    "/members/me/follows",
    response_model=list[FollowOut],
    summary="What you follow",
    responses=problem_responses(401),
)
async def my_follows(member: MemberDep, session: SessionDep) -> list[FollowOut]:
    return [
        FollowOut.model_validate(found, from_attributes=True)
        for found in await repository.follows(session, member.id)
    ]


@router.put(
    "/members/me/follows/{target_type}/{target_key}",
    status_code=204,
    summary="Follow an action, objective, axis, commune or initiative",
    description="What changes in it comes in your digest (see `digest_frequency`).",
    responses=problem_responses(401, 404),
)
async def follow(
    target_type: FollowTarget,
    target_key: TargetKey,
    member: MemberDep,
    session: SessionDep,
) -> Response:
    await service.follow(session, member, target_type, target_key)
    return Response(status_code=204)


@router.delete(
    "/members/me/follows/{target_type}/{target_key}",
    status_code=204,
    summary="Stop following",
    responses=problem_responses(401),
)
async def unfollow(
    target_type: FollowTarget,
    target_key: TargetKey,
    member: MemberDep,
    session: SessionDep,
) -> Response:
    await repository.unfollow(session, member.id, target_type.value, target_key)
    return Response(status_code=204)


@router.get(
    "/stats",
    response_model=ClubStatistics,
    summary="How many members, by profile type and commune",
    description="The member list itself is never public.",
)
async def statistics(session: SessionDep) -> ClubStatistics:
    return ClubStatistics(**await service.statistics(session))


UNSUBSCRIBED = (
    "<!doctype html><html lang=fr><meta charset=utf-8><title>Désabonnement</title>"
    "<p>C'est fait : vous ne recevrez plus ces courriels.</p></html>"
)


async def _unsubscribed(session: AsyncSession, token: str) -> HTMLResponse:
    """The link in the email and the mail client's one click stop the digests alike."""
    await service.unsubscribe(session, token)
    return HTMLResponse(UNSUBSCRIBED, headers=NO_STORE)


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Stop the digest emails (the link in each email; no login)",
    responses=problem_responses(404),
)
async def unsubscribe(token: Token, session: SessionDep) -> HTMLResponse:
    return await _unsubscribed(session, token)


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Stop the digest emails in one click (RFC 8058, from the mail client)",
    responses=problem_responses(404),
)
async def unsubscribe_one_click(token: Token, session: SessionDep) -> HTMLResponse:
    return await _unsubscribed(session, token)


@router.post(
    "/actions/{code}/comments",
    status_code=201,
    response_model=CommentCreated,
    summary="Comment on a launched action (or reply to a comment, one level)",
    description="Published once a moderator accepts it, or at once if the territory moderates "
    "afterwards. At most 5 comments per 10 minutes per member (429 with Retry-After).",
    responses=problem_responses(401, 404, 409, 422, 429),
)
async def comment(
    request: Request, code: ActionCode, body: CommentIn, member: MemberDep, session: SessionDep
) -> CommentCreated:
    created = await service.comment(
        session, member, code, body.body, body.parent_id, request.app.state.settings
    )
    return CommentCreated(
        id=created.id, status=created.status, action=code, parent_id=created.parent_id
    )


@router.get(
    "/actions/{code}/comments",
    response_model=list[CommentOut],
    summary="The published comments of an action, threaded",
    responses=problem_responses(404),
)
async def comments(code: ActionCode, session: SessionDep) -> list[CommentOut]:
    return [CommentOut.model_validate(item) for item in await service.thread(session, code)]


@router.post(
    "/comments/{comment_id:id}/reports",
    status_code=202,
    response_model=Accepted,
    summary="Report a comment to the moderators",
    description="Once per member; reported by 3 members, a comment is hidden until a "
    "moderator decides.",
    responses=problem_responses(401, 404, 409, 422),
)
async def report(
    comment_id: CommentId, body: ReportIn, member: MemberDep, session: SessionDep
) -> Accepted:
    await service.report(session, member, comment_id, body.reason)
    return Accepted(detail="Thank you: the moderators will look at it.")


@router.put(
    "/actions/{code}/rating",
    status_code=204,
    summary="Rate an action's relevance (1 to 5; again to change it)",
    responses=problem_responses(401, 404, 409, 422),
)
async def rate(
    code: ActionCode, body: RatingIn, member: MemberDep, session: SessionDep
) -> Response:
    await service.rate(session, member, code, body.relevance)
    return Response(status_code=204)


@router.get(
    "/actions/{code}/ratings",
    response_model=RatingSummary,
    summary="How members rate an action's relevance",
    responses=problem_responses(404),
)
async def ratings(code: ActionCode, session: SessionDep) -> RatingSummary:
    return RatingSummary(**await service.rating_summary(session, code))


@router.get(
    "/moderation/comments",
    response_model=list[QueuedComment],
    summary="Comments waiting for moderation (most reported first)",
    responses=problem_responses(401, 403),
)
async def queue(
    moderator: ModeratorDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[QueuedComment]:
    return [
        QueuedComment.model_validate(found, from_attributes=True)
        for found in await repository.comment_queue(session, limit)
    ]


@router.post(
    "/moderation/comments/{comment_id:id}/{decision}",
    response_model=QueuedComment,
    summary="Publish or reject a comment",
    responses=problem_responses(401, 403, 404),
)
async def moderate(
    comment_id: CommentId,
    decision: Annotated[str, Path(pattern="^(publish|reject)$", examples=["publish"])],
    moderator: ModeratorDep,
    session: SessionDep,
) -> QueuedComment:
    found = await service.moderate(session, comment_id, decision == "publish")
    return QueuedComment.model_validate(found, from_attributes=True)
