"""Shared fixtures: a demo cluster served over real HTTP on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import Cluster
from nomadtui.demo.server import DemoServer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's cluster, token or config."""
    for name in ("NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_NAMESPACE", "NOMAD_REGION", "NOMAD_CACERT",
                 "NOMAD_CAPATH", "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY", "NOMAD_TLS_SERVER_NAME",
                 "NOMAD_SKIP_VERIFY", "NOMAD_HTTP_AUTH", "FABIO_ADDR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """A demo cluster on a manual clock: time moves only through demo.advance()."""
    server = DemoServer(Cluster(ManualClock(), seed=7), seed=7).start()
    try:
        yield server
    finally:
        server.stop()
