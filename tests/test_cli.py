"""The command line refuses what it cannot honour before any screen appears: a sentence on
stderr naming the flag, exit status 2, and no token in the message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nomadtui import cli
from nomadtui.demo.server import DemoServer
from nomadtui.ui.app import NomadApp


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


@pytest.fixture
def refused(monkeypatch, capsys, tmp_path):
    """`nomadtui ARGS` run in this process (the same `cli.main`, a subprocess's start-up
    spared): for the many refusals. Opening the screen, or starting a demo cluster only to
    refuse afterwards, fails the test at once."""

    def opened(self, *args, **kwargs):
        raise AssertionError("the screen opened")

    def started(self, *args, **kwargs):
        raise AssertionError("a demo cluster was started for a refusal")

    monkeypatch.setattr(NomadApp, "run", opened)
    monkeypatch.setattr(DemoServer, "start", started)

    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        for name in [k for k in os.environ if k.startswith(("NOMAD_", "FABIO_"))]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        try:
            code = cli.main(list(args))
        except SystemExit as e:  # argparse's refusals
            code = e.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return run


def test_a_refusal_comes_from_the_command_itself():
    """What the in-process refusals below stand for, once through the real `python -m nomadtui`."""
    result = nomadtui(env={"NOMAD_ADDR": "ftp://host:21", "NOMAD_TOKEN": "s3cr3t-token-value"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "nomadtui: NOMAD_ADDR is 'ftp://host:21', not an http:// or https:// address (its scheme is ftp)\n"
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
def test_bad_arguments_are_refused_with_a_sentence(refused, args, env, says):
    result = refused(*args, env=env)
    assert result.returncode == 2, result
    assert says in result.stderr
    assert result.stdout == ""
    assert "s3cr3t" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (
            [],
            {"NOMAD_ADDR": "ftp://host:21"},
            "NOMAD_ADDR is 'ftp://host:21', not an http:// or https:// address (its scheme is ftp)",
        ),
        (
            ["--addr", "http://[bad"],
            {},
            "--addr is 'http://[bad', not a valid address: the IPv6 address has no closing ]",
        ),
        (["--addr", "http://nomad:99999"], {}, "the port 99999 is not between 1 and 65535"),
        (["--addr", "https://:4646"], {}, "--addr is 'https://:4646', not a valid address: it has no host"),
        ([], {"FABIO_ADDR": "gopher://fabio:9998"}, "FABIO_ADDR is 'gopher://fabio:9998', not an http:// or https://"),
        (
            ["--fabio-addr", "http://fabio:x"],
            {},
            "--fabio-addr is 'http://fabio:x', not a valid address: the port 'x' is not a number",
        ),
        (["--probe-url", "ftp://lb:9999/"], {}, "--probe-url is 'ftp://lb:9999/', not an http:// or https://"),
        (["--probe-url", "http://[::1/"], {}, "--probe-url is 'http://[::1/', not a valid address"),
        (["--probe-regex", "("], {}, "--probe-regex: version_regex is not a regular expression"),
        (["--probe-ca", "/nonexistent/ca.pem"], {}, "--probe-ca is '/nonexistent/ca.pem', which holds no CA"),
        (["--jobs-dir", "/nonexistent/jobs"], {}, "--jobs-dir is '/nonexistent/jobs', which does not exist"),
        (["--demo", "--jobs-dir", "/nonexistent/jobs"], {}, "--jobs-dir is '/nonexistent/jobs', which does not exist"),
        (
            [],
            {"NOMAD_ADDR": "http://ops:s3cr3t-password@[bad:4646"},
            "NOMAD_ADDR is 'http://ops:***@[bad:4646', not a valid address",
        ),
    ],
    ids=[
        "ftp-env",
        "bad-ipv6",
        "bad-port",
        "empty-host",
        "fabio-env",
        "fabio-port",
        "probe-scheme",
        "probe-ipv6",
        "probe-regex",
        "probe-ca-missing",
        "jobs-dir-missing",
        "demo-jobs-dir-missing",
        "password-hidden",
    ],
)
def test_addresses_and_folders_are_checked_before_the_screen(refused, args, env, says):
    """One sentence naming the value and where it came from, exit status 2, nothing on stdout
    (no screen was drawn)."""
    result = refused(*args, env=env)
    assert result.returncode == 2, result
    assert result.stderr.startswith("nomadtui: ") and result.stderr.count("\n") == 1
    assert says in result.stderr
    assert result.stdout == "" and "s3cr3t" not in result.stderr


def test_a_jobs_dir_that_is_a_file_is_refused(refused, tmp_path):
    job = tmp_path / "web.nomad"
    job.write_text('job "web" {}\n')
    result = refused("--jobs-dir", str(job), env={})
    assert result.returncode == 2
    assert result.stderr == f"nomadtui: --jobs-dir is {str(job)!r}, which is not a folder\n"


def test_a_config_file_address_is_named_with_its_cluster(tmp_path):
    (tmp_path / "nomadtui").mkdir()
    config = tmp_path / "nomadtui" / "config.toml"
    config.write_text('default_cluster = "prod"\n[clusters.prod]\naddress = "ftp://nomad.prod:4646"\n')
    result = nomadtui(config=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"nomadtui: address in [clusters.prod] of {config} is 'ftp://nomad.prod:4646', "
        "not an http:// or https:// address (its scheme is ftp)\n"
    )


def test_a_broken_config_file_is_named(refused, tmp_path):
    (tmp_path / "nomadtui").mkdir()
    (tmp_path / "nomadtui" / "config.toml").write_text("[clusters.prod\naddress = 1\n")
    result = refused(env={})
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
