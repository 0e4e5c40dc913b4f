"""The demo's certificate authority: made at start (trustme), its certificate written to a
temporary PEM file for clients (`curl --cacert`, the probe), and a certificate per route host
for the simulated backends that end TLS behind Fabio's tcp+sni listener."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
import weakref

import trustme


class DemoCA:
    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="nomadtui demo")
        fd, self.path = tempfile.mkstemp(prefix="nomadtui-demo-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(self._ca.cert_pem.bytes())
        # Removed by remove(), else when this is collected or the interpreter exits.
        self.remove = weakref.finalize(self, _unlink, self.path)
        self._contexts: dict[str, ssl.SSLContext] = {}

    def server_context(self, host: str) -> ssl.SSLContext:
        """A server context with a certificate for `host` (a route's host, so a bounded set),
        made on first use; ValueError for a name no certificate can carry."""
        context = self._contexts.get(host)
        if context is None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._ca.issue_cert(host).configure_cert(context)
            self._contexts[host] = context
        return context


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
