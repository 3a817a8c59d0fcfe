from __future__ import annotations

from fastapi import APIRouter

from api.deps import ChatDep, RosterDep, SessionsDep, SettingsDep
from api.routing import Route
from api.schemas.chat import IterateBody, IterateReply
from api.schemas.errors import ErrorBody
from api.slots import slot
from lakehouse_assets.core.llm.iterate import IterateSpec, run_iterate

router = APIRouter(prefix="/iterate", tags=["validation"], route_class=Route)


@router.post(
    "",
    dependencies=[slot("LLM calls")],
    responses={
        400: {"model": ErrorBody, "description": "Unknown kind, missing model, a bad parameter."},
        404: {"model": ErrorBody, "description": "Provider not configured, or no roster dataset for a fill."},
        429: {"model": ErrorBody, "description": "The upstream rate-limited the call."},
        502: {"model": ErrorBody, "description": "The upstream failed."},
        504: {"model": ErrorBody, "description": "The upstream did not answer in time."},
    },
)
def iterate(
    body: IterateBody, chat: ChatDep, roster: RosterDep, sessions: SessionsDep, settings: SettingsDep
) -> IterateReply:
    """Generate, extract the JSON, validate, and retry with the validator's error as feedback, until the
    proposal is accepted, `max_iterations` attempts are spent or the token budget is. 200 either way
    (`accepted` says which); every session is appended to the session journal."""
    spec = IterateSpec(
        prompt=body.prompt,
        kind=body.kind,
        model=body.model,
        tier=body.tier,
        fallbacks=tuple(body.fallbacks),
        context=body.context,
        max_iterations=body.max_iterations or settings.iterate_max_iterations,
        token_budget=body.token_budget or settings.iterate_token_budget,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        json_format=body.format == "json",
        timeout=body.timeout,
        system=body.system,
        session_id=body.session_id,
    )
    outcome = run_iterate(spec, chat=chat, roster=roster, journal=sessions)
    return IterateReply(**outcome.to_json())
