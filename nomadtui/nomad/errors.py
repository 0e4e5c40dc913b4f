"""Every failure talking to Nomad becomes a `ClusterError` with a plain sentence.

`kind` is for code (the UI offers a re-plan for `stale`, shows a banner for `unreachable`);
`message` is for people. Nomad's own text is kept where it says something useful (validation
errors, refused promotions); tokens never appear because nothing here sees request headers.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import httpx

from ..model import format_bytes

# The error type and its kinds are the state's (a failing source shows its error there).
from ..state import (
    BAD_RESPONSE,
    DENIED,
    INVALID,
    NOT_FOUND,
    PROXY,
    REFUSED,
    STALE,
    STOPPED,
    TIMEOUT,
    TOO_LARGE,
    UNREACHABLE,
    ClusterError,
)
from ..wire import multierror_items

__all__ = [
    "BAD_RESPONSE",
    "DENIED",
    "INVALID",
    "NOT_FOUND",
    "PROXY",
    "REFUSED",
    "STALE",
    "STOPPED",
    "TIMEOUT",
    "TOO_LARGE",
    "UNREACHABLE",
    "ClusterError",
]


def nomad_text(body: str) -> str:
    """Nomad's error body without go-multierror's framing: one line per error."""
    text = body.strip().removeprefix("rpc error: ")
    items = multierror_items(text)
    if items is None:
        return text
    return "; ".join(" ".join(item.split()) for item in items) if items else text


def from_status(
    status: int,
    body: str,
    *,
    action: str,
    capability: str,
    namespace: str,
    subject: str = "",
    content_type: str = "",
    address: str = "",
) -> ClusterError:
    """Map an HTTP error answer to a sentence. `action` is what we tried ("register the job"),
    `capability` the ACL capability it needs, `subject` what it was about ("job web")."""
    if from_http_layer(status, body, content_type):
        where = f" at {address}" if address else ""
        return ClusterError(
            PROXY,
            f"{status} {status_phrase(status)} from the HTTP layer in front of Nomad{where} "
            f"(a proxy or load balancer), not from Nomad itself: cannot {action}.",
            status=status,
            detail=body[:2000],
        )
    text = nomad_text(body)
    if status == 403:
        if "ACL token not found" in body:
            return ClusterError(
                DENIED,
                "Nomad does not know this token (ACL token not found). Check NOMAD_TOKEN.",
                status=status,
                detail=text,
            )
        return ClusterError(
            DENIED,
            f"Permission denied: cannot {action}. The token needs the "
            f"'{capability}' capability in namespace '{namespace}'.",
            status=status,
            detail=text,
        )
    if status == 404:
        what = subject or "the object"
        return ClusterError(
            NOT_FOUND,
            f"Cannot {action}: {what} does not exist in namespace '{namespace}' (Nomad: {text}).",
            status=status,
            detail=text,
        )
    if "Enforcing job modify index" in text or "enforcing version" in text:
        return ClusterError(
            STALE,
            f"Cannot {action}: the job changed since you looked at it (Nomad: {text}).",
            status=status,
            detail=text,
        )
    if status == 400 or "validation failed" in text or text.startswith("Failed to parse"):
        return ClusterError(INVALID, f"Nomad rejected the request to {action}: {text}", status=status, detail=text)
    return ClusterError(REFUSED, f"Nomad refused to {action}: {text}", status=status, detail=text)


def from_http_layer(status: int, body: str, content_type: str = "") -> bool:
    """Whether an error answer came from something in front of Nomad rather than Nomad: Nomad's
    agent never answers 502, 503 or 504 and writes its errors as plain text, never HTML."""
    if status in (502, 503, 504):
        return True
    head = body.lstrip()[:200].lower()
    return status >= 400 and ("html" in content_type.lower() or head.startswith(("<!doctype html", "<html")))


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "(unknown status)"


def too_large(service: str, path: str, size: int, limit: int, *, declared: bool) -> ClusterError:
    how = "says it is" if declared else "was more than"
    return ClusterError(
        TOO_LARGE,
        f"{service}'s answer to {path} {how} {format_bytes(size)}, over the "
        f"{format_bytes(limit)} limit: it was not read (max_answer_mb in the config "
        "file raises the limit).",
    )


def from_transport(e: Exception, address: str, timeout: float | None = None, *, service: str = "Nomad") -> ClusterError:
    """Connection-level failures of httpx: a refused connection, a reset, a connection closed
    without an answer and a timeout each have their own words (requests' are mapped to the
    same in `pyclient`)."""
    if isinstance(e, httpx.TimeoutException):
        return timed_out(address, timeout, connecting=isinstance(e, httpx.ConnectTimeout), service=service)
    reason = _reason(e)
    short = reason.split(" (", 1)[0]
    if short.startswith("the "):
        short = short[4:]
    return ClusterError(UNREACHABLE, f"Cannot reach {service} at {address}: {reason}.", reason=short)


def timed_out(address: str, timeout: float | None, *, connecting: bool, service: str = "Nomad") -> ClusterError:
    limit = f" within {timeout:g}s" if timeout else ""
    if connecting:
        return ClusterError(
            TIMEOUT, f"{service} at {address} did not accept a connection{limit}.", reason=f"no connection{limit}"
        )
    return ClusterError(TIMEOUT, f"{service} at {address} did not answer{limit}.", reason=f"no answer{limit}")


_REASONS = (
    (
        r"CERTIFICATE_VERIFY_FAILED|certificate verify failed",
        "its TLS certificate is not trusted (set NOMAD_CACERT, or NOMAD_SKIP_VERIFY=true to accept it)",
    ),
    (r"WRONG_VERSION_NUMBER", "it does not speak TLS (try http://)"),
    (r"Connection refused|All connection attempts failed|\[Errno 111\]|\[Errno 61\]", "connection refused"),
    (
        r"Name or service not known|nodename nor servname|getaddrinfo failed|Temporary failure in name resolution",
        "the host name does not resolve",
    ),
    (r"Connection reset|\[Errno 104\]|\[Errno 54\]|ConnectionResetError", "the connection was reset"),
    (
        r"Server disconnected without sending|RemoteDisconnected|closed connection without response|"
        r"Remote end closed connection",
        "the connection was closed before an answer came",
    ),
    (r"Broken pipe|\[Errno 32\]", "the connection broke while the request was being sent"),
    (r"No route to host|Network is unreachable|\[Errno 113\]|\[Errno 101\]", "there is no network route to it"),
)


def _reason(e: BaseException) -> str:
    text = " ".join(f"{type(x).__name__}: {x}" for x in _chain(e))
    for pattern, sentence in _REASONS:
        if re.search(pattern, text):
            return sentence
    if isinstance(e, httpx.RemoteProtocolError):
        return "it did not answer in HTTP"
    if isinstance(e, httpx.ReadError):
        return "the connection broke while the answer was being read"
    if isinstance(e, httpx.WriteError):
        return "the connection broke while the request was being sent"
    if isinstance(e, httpx.UnsupportedProtocol):
        return "the address is not http:// or https://"
    first = (str(e).splitlines() or [""])[0][:200]
    return first or type(e).__name__


def _chain(e: BaseException) -> list[BaseException]:
    """The exception and what caused it, down to the OS error (httpx wraps httpcore wraps OSError)."""
    out: list[BaseException] = []
    current: BaseException | None = e
    while current is not None and current not in out and len(out) < 10:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out
