"""Every failure talking to Nomad becomes a `ClusterError` with a plain sentence.

`kind` is for code (the UI offers a re-plan for `stale`, shows a banner for `unreachable`);
`message` is for people. Nomad's own text is kept where it says something useful (validation
errors, refused promotions); tokens never appear because nothing here sees request headers.
"""

from __future__ import annotations

import re

import httpx
import requests

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
DENIED = "denied"
NOT_FOUND = "not_found"
INVALID = "invalid"      # a job file or request Nomad rejects (parse, validation)
STALE = "stale"          # a check-and-set guard refused the write: someone else changed the job
REFUSED = "refused"      # anything else Nomad refused (unhealthy canaries, terminal deployment)
BAD_RESPONSE = "bad_response"


class ClusterError(Exception):
    def __init__(self, kind: str, message: str, *, status: int | None = None, detail: str = "",
                 line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.detail = detail
        self.line = line          # where in a job file, for parse errors
        self.column = column

    def __repr__(self) -> str:
        return f"ClusterError({self.kind!r}, {self.message!r})"


_MULTIERROR = re.compile(r"^\d+ errors? occurred:\s*", re.S)


def nomad_text(body: str) -> str:
    """Nomad's error body without go-multierror's framing: one line per error."""
    text = body.strip()
    if text.startswith("rpc error: "):
        text = text[len("rpc error: "):]
    if _MULTIERROR.match(text):
        items = [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("* ")]
        return "; ".join(items) if items else text
    return text


def from_status(status: int, body: str, *, action: str, capability: str, namespace: str,
                subject: str = "") -> ClusterError:
    """Map an HTTP error answer to a sentence. `action` is what we tried ("register the job"),
    `capability` the ACL capability it needs, `subject` what it was about ("job web")."""
    text = nomad_text(body)
    if status == 403:
        if "ACL token not found" in body:
            return ClusterError(DENIED, "Nomad does not know this token (ACL token not found). "
                                        "Check NOMAD_TOKEN.", status=status, detail=text)
        return ClusterError(DENIED, f"Permission denied: cannot {action}. The token needs the "
                                    f"'{capability}' capability in namespace '{namespace}'.",
                            status=status, detail=text)
    if status == 404:
        what = subject or "the object"
        return ClusterError(NOT_FOUND, f"Cannot {action}: {what} does not exist in namespace '{namespace}' "
                                       f"(Nomad: {text}).", status=status, detail=text)
    if "Enforcing job modify index" in text or "enforcing version" in text:
        return ClusterError(STALE, f"Cannot {action}: the job changed since you looked at it "
                                   f"(Nomad: {text}).", status=status, detail=text)
    if status == 400 or "validation failed" in text or text.startswith("Failed to parse"):
        return ClusterError(INVALID, f"Nomad rejected the request to {action}: {text}", status=status, detail=text)
    return ClusterError(REFUSED, f"Nomad refused to {action}: {text}", status=status, detail=text)


def from_transport(e: Exception, address: str, timeout: float | None = None) -> ClusterError:
    """Connection-level failures of httpx or requests."""
    if isinstance(e, (httpx.TimeoutException, requests.Timeout)):
        limit = f" within {timeout:g}s" if timeout else ""
        return ClusterError(TIMEOUT, f"Nomad at {address} did not answer{limit}.")
    reason = _reason(e)
    return ClusterError(UNREACHABLE, f"Cannot reach Nomad at {address}: {reason}.")


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    for pattern, sentence in (
        (r"CERTIFICATE_VERIFY_FAILED|certificate verify failed", "its TLS certificate is not trusted "
                                                                 "(set NOMAD_CACERT, or NOMAD_SKIP_VERIFY=true to accept it)"),
        (r"Connection refused|ConnectError: All connection attempts failed|\[Errno 111\]", "connection refused"),
        (r"Name or service not known|nodename nor servname|getaddrinfo failed", "the host name does not resolve"),
        (r"WRONG_VERSION_NUMBER", "it does not speak TLS (try http://)"),
    ):
        if re.search(pattern, text):
            return sentence
    return text.splitlines()[0][:200]
