"""HTTP clients built from the settings: httpx (async) for live views, python-nomad (requests)
for commands. Both verify TLS unless the user said otherwise, send the token as
`X-Nomad-Token`, and honour the namespace, region, basic auth, client certificate and SNI name."""

from __future__ import annotations

import httpx
import nomad
import requests
from requests.adapters import HTTPAdapter

from .. import __version__
from ..settings import Settings

USER_AGENT = f"nomadtui/{__version__}"


def async_client(settings: Settings, *, timeout: float = 10.0) -> httpx.AsyncClient:
    headers = {"User-Agent": USER_AGENT, **settings.headers()}
    kwargs: dict = {}
    if settings.is_tls:
        kwargs["verify"] = settings.tls.ssl_context()
    return httpx.AsyncClient(base_url=settings.address, headers=headers, auth=settings.basic_auth(),
                             timeout=timeout, limits=httpx.Limits(max_keepalive_connections=10), **kwargs)


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
