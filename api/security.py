"""Who may call the API: bearer tokens (a primary and secondary ones, for rotation, compared in constant
time), an optional IP allowlist, and the caller's address as the peer or, only from a configured proxy, as
its X-Forwarded-For says. With no token configured the API serves callers on this machine only (a
loopback peer, a Unix socket, an in-process client), whatever address it was bound to: `check_bind`
refuses a non-loopback bind up front, and `Gate` (api/gate.py) refuses a remote caller whatever started it."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from fastapi.security import HTTPBearer

from api.settings import ApiSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Unauthorized(Exception):
    """401: no token, or not one of ours."""


class Forbidden(Exception):
    """403: the caller's address is outside the allowlist, or remote while the API has no token."""


class UnsafeBind(RuntimeError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ip(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host or "")
    except ValueError:
        return None


def check_bind(host: str, settings: ApiSettings) -> None:
    """Refuse to serve an open API beyond this machine (the CLI's early answer; the gate holds either way)."""
    if not is_loopback(host) and not settings.tokens():
        raise UnsafeBind(
            f"refusing to listen on {host}: that is reachable from other machines and no API token is set. "
            "Set LAKEHOUSE_API_TOKEN (callers then send 'Authorization: Bearer <token>'), or bind 127.0.0.1."
        )


# Documents the scheme in OpenAPI (the /docs "Authorize" button); checking happens in the gate.
bearer_scheme = HTTPBearer(auto_error=False, description="LAKEHOUSE_API_TOKEN (or a secondary token)")


def token_matches(presented: str, tokens: tuple[str, ...]) -> bool:
    """Compare against every token, in constant time for each, without stopping at the first match."""
    given = presented.encode("utf-8")
    matched = False
    for t in tokens:
        matched |= hmac.compare_digest(given, t.encode("utf-8"))
    return matched


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header ('' for none or another scheme)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class Caller:
    """Who is calling: `address` is the peer's IP, or the forwarded client's when the peer is a trusted proxy;
    None for a peer that is no IP (a Unix socket, an in-process client), which is on this machine."""

    address: str | None
    local: bool


def resolve_caller(client: tuple[str, int] | None, forwarded_for: str | None, trusted: list[Network]) -> Caller:
    """The caller behind `client` (the ASGI scope's peer) and its X-Forwarded-For header.

    Forwarded addresses count only when the peer is one of `trusted`: then the caller is the right-most
    address not itself a trusted proxy (what the nearest untrusted hop connected from; anything left of it
    the client wrote itself). A peer with port 0 was already rewritten by the server's own proxy-header
    handling (uvicorn's --proxy-headers trusts 127.0.0.1 by default): with no proxies configured here that
    address is the client's say-so, so the caller is unknown, neither local nor allowlisted."""
    host, port = (client[0], client[1]) if client else (None, None)
    peer = _ip(host)
    if peer is None:
        return Caller(None, local=True)
    if forwarded_for is not None and port == 0 and not trusted:
        return Caller(None, local=False)
    if forwarded_for and any(peer in n for n in trusted):
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            address = _ip(hop.removeprefix("[").split("]")[0] if hop.startswith("[") else hop)
            if address is None:
                return Caller(None, local=False)  # garbage where an address should be: trust nothing
            if not any(address in n for n in trusted):
                return Caller(str(address), local=address.is_loopback)
    return Caller(str(peer), local=peer.is_loopback)


def check_caller(tokens: tuple[str, ...], networks: list[Network], caller: Caller, authorization: str | None) -> None:
    """The gate's rule, in order: an API without a token serves local callers only (403); the allowlist
    `networks` (403); the token (401)."""
    if not tokens and not caller.local:
        raise Forbidden(
            f"this API has no token (LAKEHOUSE_API_TOKEN), so it serves callers on its own machine only, and "
            f"{caller.address or 'this caller'} is not one: set a token to serve others"
        )
    if networks:
        address = _ip(caller.address)
        if address is None:
            raise Forbidden(f"caller address {caller.address!r} is not in the allowlist")
        if not any(address in n for n in networks):
            raise Forbidden(f"caller address {caller.address} is not in the allowlist")
    if not tokens:
        return
    presented = bearer_token(authorization)
    if not presented:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    if not token_matches(presented, tokens):
        raise Unauthorized("invalid bearer token")
