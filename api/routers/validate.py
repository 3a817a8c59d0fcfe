from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import RosterDep
from api.routing import Route
from api.schemas.errors import ErrorBody
from lakehouse_assets.core.llm.validation import validate

router = APIRouter(prefix="/validate", tags=["validation"], route_class=Route)


class ValidateRequest(BaseModel):
    kind: str = Field(description="fill, email, sms or playbook", examples=["sms"])
    payload: Any = Field(description="What to check", examples=[{"to": "+13125550147", "body": "Shift at 7am."}])
    context: dict[str, Any] | None = Field(default=None, description='e.g. {"shift": "night"} for a fill')


@router.post(
    "",
    responses={
        400: {"model": ErrorBody, "description": "Unknown kind."},
        422: {
            "description": "Invalid: one externally tagged error (Schema, Completeness, Consistency or Policy).",
            "content": {"application/json": {"example": {"Policy": {"reason": "body contains an SSN-like number"}}}},
        },
    },
)
def validate_route(body: ValidateRequest, roster: RosterDep) -> dict[str, Any]:
    """Check an LLM's proposal before anyone acts on it. A fill is checked against the roster dataset:
    made-up worker ids, unavailable workers and the wrong shift are rejected."""
    return validate(body.kind, body.payload, body.context, roster=roster)
