"""The demo's HTTP apps answer each request from one `dispatch` method."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


class RequestApp:
    """An ASGI app that answers every HTTP request with `await self.dispatch(request)`."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        response = await self.dispatch(Request(scope, receive))
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        raise NotImplementedError
