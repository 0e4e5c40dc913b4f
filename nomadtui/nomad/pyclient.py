"""python-nomad (over requests) for commands, and its failures as `ClusterError`s.

Imported on the first command, not at start-up: python-nomad and requests take a quarter of a
second to import, and an operator who only watches never needs them.
"""

from __future__ import annotations

import asyncio

import nomad
import requests
from nomad.api import exceptions as nomad_exceptions
from requests.adapters import HTTPAdapter

from ..settings import Settings
from .errors import BAD_RESPONSE, ClusterError, from_status, from_transport, timed_out
from .http import ERROR_BODY, USER_AGENT


class _ServerNameAdapter(HTTPAdapter):
    """Verify the certificate against NOMAD_TLS_SERVER_NAME instead of the address's host."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        return super().init_poolmanager(*args, **kwargs)


def python_nomad(settings: Settings, *, timeout: float = 15.0) -> nomad.Nomad:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    # Commands are rare: a fresh connection each time, never a kept-alive one the server has
    # closed meanwhile (a POST on it fails with "Remote end closed connection").
    session.headers["Connection"] = "close"
    session.auth = settings.basic_auth()
    if settings.is_tls and settings.tls.server_name:
        session.mount("https://", _ServerNameAdapter(settings.tls.server_name))
    return nomad.Nomad(
        address=settings.address,
        token=settings.token.reveal() if settings.token else None,
        namespace=settings.namespace if settings.namespace != "*" else None,
        region=settings.region,
        timeout=timeout,
        # python-nomad does not verify certificates unless told to; nomadtui always tells it.
        verify=settings.tls.requests_verify(),
        cert=settings.tls.requests_cert() or (),
        session=session,
    )


def as_cluster_error(
    e: BaseException, address: str, timeout: float, *, action: str, capability: str, namespace: str, subject: str
) -> BaseException:
    """What a failed python-nomad call means, in a sentence (other exceptions are returned as
    they are, to be raised again)."""
    if isinstance(e, (asyncio.TimeoutError, TimeoutError, nomad_exceptions.TimeoutNomadException, requests.Timeout)):
        connecting = isinstance(e, requests.ConnectTimeout)
        error = timed_out(address, timeout, connecting=connecting)
        return ClusterError(error.kind, f"{error.message[:-1]} (trying to {action}).", reason=error.reason)
    if isinstance(e, nomad_exceptions.BaseNomadException):
        resp = e.nomad_resp
        if isinstance(resp, requests.Response):
            return from_status(
                resp.status_code,
                resp.text[:ERROR_BODY],
                action=action,
                capability=capability,
                namespace=namespace,
                subject=subject,
                content_type=resp.headers.get("Content-Type", ""),
                address=address,
            )
        cause = resp if isinstance(resp, Exception) else e
        if isinstance(cause, requests.Timeout):
            return timed_out(address, timeout, connecting=isinstance(cause, requests.ConnectTimeout))
        return from_transport(cause, address, timeout)
    if isinstance(e, requests.RequestException):
        return from_transport(e, address, timeout)
    if isinstance(e, ValueError):  # an answer that is not JSON (a proxy's page)
        return ClusterError(BAD_RESPONSE, f"Nomad's answer when trying to {action} is not JSON ({str(e)[:200]}).")
    return e
