"""A small piece of plain ASGI shared by the middlewares: editing an answer's headers."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]


def editing_headers(send: Send, edit: Callable[[Headers], Headers]) -> Send:
    """`send`, with the response's headers passed through `edit` when the answer starts."""

    async def edited(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": edit(list(message.get("headers", [])))}
        await send(message)

    return edited


class HttpMiddleware:
    """Plain ASGI middleware that looks at HTTP requests only (`http`); the rest pass as is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
