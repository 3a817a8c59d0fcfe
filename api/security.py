"""Who may call /v1: bearer tokens (a primary and secondary ones, for rotation, compared in constant
time) and an optional IP allowlist. `/health` stays open. With no token configured the API is open,
which is only allowed on a loopback address: `check_bind` refuses anything else."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.settings import ApiSettings


class Unauthorized(Exception):
    """401: no token, or not one of ours."""


class Forbidden(Exception):
    """403: the caller's address is outside the allowlist."""


class UnsafeBind(RuntimeError):
    pass


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: ApiSettings) -> None:
    """Refuse to serve an open API beyond this machine."""
    if not _is_loopback(host) and not settings.tokens():
        raise UnsafeBind(
            f"refusing to listen on {host}: that is reachable from other machines and no API token is set. "
            "Set LAKEHOUSE_API_TOKEN (callers then send 'Authorization: Bearer <token>'), or bind 127.0.0.1."
        )


# Documents the scheme in OpenAPI (the /docs "Authorize" button); checking stays in `authorize`.
bearer_scheme = HTTPBearer(auto_error=False, description="LAKEHOUSE_API_TOKEN (or a secondary token)")


def token_matches(presented: str, tokens: tuple[str, ...]) -> bool:
    """Compare against every token, in constant time for each, without stopping at the first match."""
    given = presented.encode("utf-8")
    matched = False
    for t in tokens:
        matched |= hmac.compare_digest(given, t.encode("utf-8"))
    return matched


async def authorize(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> None:
    """The /v1 gate: the allowlist first (403), then the token (401)."""
    settings: ApiSettings = request.app.state.services.settings
    networks = settings.allowed_networks()
    if networks:
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise Forbidden(f"caller address {host!r} is not in the allowlist") from None
        if not any(address in n for n in networks):
            raise Forbidden(f"caller address {host} is not in the allowlist")
    tokens = settings.tokens()
    if not tokens:
        return
    presented = credentials.credentials.strip() if credentials is not None else ""
    if not presented:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    if not token_matches(presented, tokens):
        raise Unauthorized("invalid bearer token")


Authorized = Annotated[None, Depends(authorize)]
