"""The command line refuses what it cannot honour before any screen appears: a sentence on
stderr naming the flag, exit status 2, and no token in the message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def nomadtui(*args: str, env: dict[str, str] | None = None, config: Path | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "FABIO_"))}
    environment.update(env or {})
    if config is not None:
        environment["XDG_CONFIG_HOME"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "nomadtui", *args],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--tour"], {}, "--tour plays on the demo cluster: add --demo"),
        (["--demo", "--tour", "--read-only"], {}, "cannot run --read-only"),
        (["--probe-rate", "500"], {}, "--probe-rate:"),
        (["--speed", "fast"], {}, "argument --speed: invalid float value: 'fast'"),
        (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
        (["--addr", "unix:///var/run/nomad.sock"], {}, "unix://"),
        ([], {"NOMAD_ADDR": "unix:///var/run/nomad.sock", "NOMAD_TOKEN": "s3cr3t-token-value"}, "unix://"),
        (["--cluster", "nowhere"], {}, "nowhere"),
    ],
    ids=["tour-without-demo", "tour-read-only", "probe-rate", "speed", "unknown-flag", "addr", "env-addr", "cluster"],
)
def test_bad_arguments_are_refused_with_a_sentence(tmp_path, args, env, says):
    result = nomadtui(*args, env=env, config=tmp_path)
    assert result.returncode == 2, result
    assert says in result.stderr
    assert result.stdout == ""
    assert "s3cr3t" not in result.stderr


def test_a_broken_config_file_is_named(tmp_path):
    (tmp_path / "nomadtui").mkdir()
    (tmp_path / "nomadtui" / "config.toml").write_text("[clusters.prod\naddress = 1\n")
    result = nomadtui(config=tmp_path)
    assert result.returncode == 2
    assert "config.toml" in result.stderr


def test_version_and_help():
    assert nomadtui("--version").stdout.startswith("nomadtui ")
    help_text = nomadtui("--help").stdout
    for flag in ("--demo", "--addr", "--namespace", "--read-only", "--tls-skip-verify", "--jobs-dir"):
        assert flag in help_text


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_the_app_ends_when_its_terminal_is_gone(demo):
    """A terminal closed under the app (no SIGHUP reaches a process without a controlling
    terminal) must not leave it reading end-of-file in a busy loop, a core at 100 % forever."""
    import pty
    import time

    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("NOMAD_ADDR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadtui", "--addr", demo.nomad_url, "--fabio-addr", demo.fabio_url],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"httpsbackend-sni-1" not in seen and time.monotonic() < deadline:
        seen += os.read(master, 65536)
    assert b"httpsbackend-sni-1" in seen
    os.close(master)
    try:
        assert proc.wait(timeout=15) == 1
    finally:
        proc.kill()
