"""Which of the media types a route can send the client asked for (the Accept header, RFC 9110 12.5.1)."""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse_assets.core.errors import LakehouseError


class NotAcceptable(LakehouseError, ValueError):
    status = 406
    code = "not_acceptable"


def _ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media.lower(), q))
    return out


def _matches(media: str, offer: str) -> bool:
    kind = media.split("/")[0]
    return media in ("*/*", offer) or (media == f"{kind}/*" and offer.startswith(f"{kind}/"))


def choose(accept: str | None, offered: Sequence[str]) -> str:
    """The offered type the client prefers: the first of `offered` (the default) when it accepts anything
    or sends no Accept; NotAcceptable, naming what is offered, when it accepts none of them. A higher q
    wins, then an exact type over a wildcard, then the order the client wrote."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _ranges(accept)
    refused = {media for media, q in ranges if q <= 0 and "*" not in media}
    candidates = [
        (-q, "*" in media, order, position, offer)
        for order, (media, q) in enumerate(ranges)
        if q > 0
        for position, offer in enumerate(offered)
        if offer not in refused and _matches(media, offer)
    ]
    if not candidates:
        raise NotAcceptable(f"cannot send any of {accept!r}; this route sends {', '.join(offered)}")
    return min(candidates)[-1]
