"""The route class every router uses: JSON bodies are checked for text that is not Unicode.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`); Python decodes it into a str that cannot be encoded
again, so it failed wherever it went next (the journal, the embedder's tokenizer, DuckDB), as a 500, and in
iterate the journal write in `finally` hid the real error. Refused here, at the one place every body is parsed,
as a 400 naming the field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

# A surrogate can only come from an escape: UTF-8 cannot carry one, and the decoder refuses bytes that try.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidText(HTTPException):
    """400: a string of the body is not valid Unicode."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(400, f"{field or 'body'}: text holds a lone UTF-16 surrogate, which is not Unicode")


def lone_surrogate(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a decoded JSON value a string (or a key) holds a lone surrogate, or None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                return (*path, key)
            found = lone_surrogate(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate(item, (*path, i))
            if found is not None:
                return found
    return None


class CheckedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            value = json.loads(body)
            if _ESCAPED_SURROGATE.search(body):  # paired escapes (an emoji) decode to one character: walk to see
                found = lone_surrogate(value)
                if found is not None:
                    field = ".".join(str(p) for p in found)  # a key may be the culprit: show it escaped
                    raise InvalidText(field.encode("utf-8", "backslashreplace").decode("utf-8"))
            self._json = value
        return self._json


class Route(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            return await handler(CheckedRequest(request.scope, request.receive))

        return checked
