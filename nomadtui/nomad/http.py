"""The httpx (async) client for live views, built from the settings (commands use python-nomad:
see `pyclient`). It verifies TLS unless the user said otherwise, sends the token as
`X-Nomad-Token`, and honours the namespace, region, basic auth, client certificate and SNI name."""

from __future__ import annotations

import asyncio
import functools
import ssl
import weakref

import httpx

from .. import __version__
from ..settings import DEFAULT_MAX_ANSWER_MB, Settings
from .errors import BAD_RESPONSE, ClusterError, from_status, from_transport, too_large

USER_AGENT = f"nomadtui/{__version__}"


@functools.cache
def _trusting_nothing() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def verify_for(url: str, tls: ssl.SSLContext | bool = True) -> ssl.SSLContext | bool:
    """httpx's `verify=` for a client of `url`. An http:// address gets a context that verifies
    but trusts no one: loading the CA bundle costs 50-100 ms of start-up per client, for
    connections that never use TLS (a redirect to https:// fails closed)."""
    return _trusting_nothing() if url.lower().startswith("http://") else tls


def async_client(settings: Settings, *, timeout: float = 10.0) -> httpx.AsyncClient:
    headers = {"User-Agent": USER_AGENT, **settings.headers()}
    kwargs: dict = {"verify": settings.tls.ssl_context() if settings.is_tls else verify_for(settings.address)}
    return httpx.AsyncClient(
        base_url=settings.address,
        headers=headers,
        auth=settings.basic_auth(),
        timeout=timeout,
        limits=httpx.Limits(max_keepalive_connections=10),
        **kwargs,
    )


def request_extensions(settings: Settings) -> dict:
    """Per-request httpx extensions: the TLS server name to verify, when it differs from the host."""
    return {"sni_hostname": settings.tls.server_name} if settings.is_tls and settings.tls.server_name else {}


def query(settings: Settings, namespace: str | None = None, **params) -> dict:
    """Query parameters every read carries: namespace and region."""
    out = {"namespace": namespace or settings.namespace}
    if settings.region:
        out["region"] = settings.region
    out.update({k: v for k, v in params.items() if v is not None})
    return out


MAX_ANSWER = DEFAULT_MAX_ANSWER_MB * 2**20
ERROR_BODY = 64 * 1024  # bytes of an error answer worth reading: the sentence is at the start


async def read_body(resp: httpx.Response, limit: int, *, service: str = "Nomad", path: str = "") -> bytes:
    """The (decompressed) JSON body of a streamed answer. Refused unread when it declares more
    than `limit` bytes, as soon as it grows past it, or at its first bytes when it is not JSON (a
    proxy's 50 MB error page is not read to the end). Large bodies are read one at a time: a
    proxy that sends 50 MB to every watch at once costs one body, not one per watch."""
    path = path or resp.request.url.path
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(service, path, int(declared), limit, declared=True)
    body = bytearray()
    turn: asyncio.Semaphore | None = None
    try:
        async for chunk in resp.aiter_bytes():
            if not body:
                _looks_like_json(chunk, service, path)
            body += chunk
            if len(body) > limit:
                raise too_large(service, path, len(body), limit, declared=False)
            if turn is None and len(body) > LARGE_READ:
                turn = _large_reads()
                await turn.acquire()
        return bytes(body)
    finally:
        if turn is not None:
            turn.release()


LARGE_READ = 1024 * 1024  # bytes: a body this large waits for its turn to be read
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
_JSON_START = frozenset(b'[{"-0123456789tfn')


def _large_reads() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _TURNS:
        _TURNS[loop] = asyncio.Semaphore(1)
    return _TURNS[loop]


def _looks_like_json(start: bytes, service: str, path: str) -> None:
    head = start.lstrip()[:40]
    if head and head[0] not in _JSON_START:
        shown = head.decode("utf-8", "replace")
        raise ClusterError(BAD_RESPONSE, f"{service}'s answer to {path} is not JSON (it starts with {shown!r}).")


async def read_error_text(resp: httpx.Response) -> str:
    """The start of an error answer, as text: enough for the sentence, never a 50 MB page."""
    chunks, size = [], 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= ERROR_BODY:
            break
    return b"".join(chunks)[:ERROR_BODY].decode("utf-8", "replace")


async def get_answer(
    http: httpx.AsyncClient, path: str, *, params: dict, timeout: float, extensions: dict, limit: int, describe: dict
) -> tuple[bytes, httpx.Headers]:
    """`GET path`: the body and headers of a good answer, else a ClusterError with a sentence
    (`describe` gives from_status its action, capability, namespace and subject)."""
    try:
        async with http.stream("GET", path, params=params, timeout=timeout, extensions=extensions) as resp:
            if resp.status_code >= 400:
                raise from_status(
                    resp.status_code,
                    await read_error_text(resp),
                    content_type=resp.headers.get("Content-Type", ""),
                    address=str(http.base_url),
                    **describe,
                )
            return await read_body(resp, limit, path=path), resp.headers
    except httpx.HTTPError as e:
        raise from_transport(e, str(http.base_url), timeout) from None
