"""The outermost middleware: decides who may call before anything reads the request's body.

Authentication as a route dependency runs only after FastAPI has read and parsed the body, so an anonymous
client trickling a body byte by byte held a request slot (and the in-flight cap counted it) for as long as it
liked. Here the headers decide: a refused caller is answered at once, its body never read, and the middlewares
inside (the observer, the in-flight cap, the body limits) only ever see authorized work.

Every path needs the token except `/health`, which says whether the service is up; the rest of what it tells
(the lake, the frames) goes to authorized callers only. The verdict is left in the scope's state
(`request.state.authorized`) for routes that answer both."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.limits import send_json
from api.openai_wire import OPENAI_PATHS, openai_error
from api.security import Forbidden, Unauthorized, check_caller, resolve_caller
from api.settings import ApiSettings

OPEN_PATHS = ("/health",)


class Gate:
    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        # read once: the settings do not change while the app runs, and the gate is on every request
        self.tokens, self.networks = settings.tokens(), settings.allowed_networks()
        self.trusted = settings.trusted_proxies()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        caller = resolve_caller(scope.get("client"), headers.get("x-forwarded-for"), self.trusted)
        state = scope.setdefault("state", {})
        state["caller"] = caller.address
        try:
            check_caller(self.tokens, self.networks, caller, headers.get("authorization"))
        except (Unauthorized, Forbidden) as refused:
            state["authorized"] = False
            if scope["path"] in OPEN_PATHS:
                await self.app(scope, receive, send)
                return
            await _refuse(send, scope["path"], refused)
            return
        state["authorized"] = True
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    """The headers the gate reads, the first of each name (latin-1, as HTTP carries them)."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        key = name.decode("latin-1").lower()
        if key in ("authorization", "x-forwarded-for") and key not in found:
            found[key] = value.decode("latin-1")
    return found


async def _refuse(send: Send, path: str, refused: Exception) -> None:
    status = 401 if isinstance(refused, Unauthorized) else 403
    if path in OPENAI_PATHS:  # OpenAI clients parse OpenAI's error shape
        payload = openai_error(status, str(refused), "invalid_api_key" if status == 401 else "forbidden")
    else:
        payload = {"error": "unauthorized" if status == 401 else "forbidden", "message": str(refused)}
    # The body was not read: the connection cannot carry another request after this answer.
    headers = {"Connection": "close", **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    await send_json(send, status, payload, headers)
