"""The article's backend, httpsbackendservice, as the demo's targets play it: what an instance
answers (`this is httpsbackendservice, version: v1.0.2`) and the access line it writes to its
task's stdout (tasklogs.py), reached over plain HTTP through Fabio's HTTP listener or over its
own TLS through the tcp+sni listener (`serve_https`).

The TLS is ended in process: the proxy has already read the ClientHello from the connection, so
an ssl.SSLObject over memory BIOs is fed those bytes first and then the stream, which is what a
backend behind Fabio sees (sni_proxy.go replays the ClientHello to the upstream).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, TypeVar

from .tasklogs import TaskLogs, service_identity

if TYPE_CHECKING:
    from .routes import Target

READ_SIZE = 16 * 1024
MAX_HEAD = 16 * 1024  # the demo's own bound on a request's line and headers
T = TypeVar("T")


def answer(logs: TaskLogs, target: Target, request: dict[str, str]) -> str:
    """One request served by `target`: its access line logged, its answer returned. `request`
    holds the client, method, host and path."""
    name, version = service_identity(target.image, target.service)
    logs.access(target.alloc_id, target.task, request, 200, version)
    return f"this is {name}, version: {version}\n"


class TLSServerSession:
    """The server side of TLS over an asyncio stream whose first bytes were already read."""

    def __init__(
        self, context: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, already_read: bytes
    ) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._incoming.write(already_read)
        self._reader, self._writer = reader, writer

    async def _pump(self, operation: Callable[[], T]) -> T:
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                await self._flush()
                if self._incoming.eof:
                    raise ConnectionResetError("the client closed the connection") from None
                data = await self._reader.read(READ_SIZE)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            await self._flush()
            return result

    async def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self._writer.write(pending)
            await self._writer.drain()

    async def handshake(self) -> None:
        await self._pump(self._tls.do_handshake)

    async def read(self) -> bytes:
        return await self._pump(lambda: self._tls.read(READ_SIZE))

    async def write(self, data: bytes) -> None:
        await self._pump(lambda: self._tls.write(data))

    async def close(self) -> None:
        """close_notify, without waiting for the client's (as Go's tls.Conn.Close)."""
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass
        await self._flush()


async def serve_https(
    context: ssl.SSLContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    client_hello: bytes,
    respond: Callable[[dict[str, str]], str],
) -> None:
    """End TLS, read one HTTP/1.1 request, answer it with `respond(request)` and close (the
    answer says `Connection: close`). Raises OSError (ssl.SSLError included) when the client
    goes away or TLS fails."""
    tls = TLSServerSession(context, reader, writer, client_hello)
    await tls.handshake()
    head = b""
    while b"\r\n\r\n" not in head and len(head) <= MAX_HEAD:
        chunk = await tls.read()
        if not chunk:
            raise ConnectionResetError("the client closed the connection before its request")
        head += chunk
    peer = writer.get_extra_info("peername")
    request = parse_request_head(head, peer[0] if peer else "") if b"\r\n\r\n" in head else None
    if request is None:
        await tls.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n")
        await tls.write(b"Connection: close\r\n\r\n400 Bad Request")
    else:
        await tls.write(response(respond(request)))
    await tls.close()


def parse_request_head(head: bytes, client: str) -> dict[str, str] | None:
    """The client, method, host and path of an HTTP/1.x request head; None when it is none."""
    text = head.partition(b"\r\n\r\n")[0].decode("latin-1")
    line, *headers = text.split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        return None
    host = next((v.strip() for k, _, v in (h.partition(":") for h in headers) if k.strip().lower() == "host"), "")
    return {"client": client, "method": parts[0], "host": host, "path": parts[1]}


def response(body: str) -> bytes:
    """The answer as Go's net/http writes a short text answer."""
    content = body.encode()
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Content-Length: {len(content)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + content
