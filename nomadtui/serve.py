"""`nomadtui serve`: the TUI in browsers, through textual-serve (ui/web.py).

Each browser tab is its own app process (`python -m nomadtui` with the connection flags). With
--demo, one demo cluster runs in this process and every session connects to it, so the room
watches the same rollout. Sessions are --read-only but the presenter's (--presenter), or all with
--allow-actions; loopback unless --host says otherwise.

A composition root like cli.py and harness/: it may import the demo and start the UI's processes;
the UI never imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import socket
import sys
from pathlib import Path

from . import cli
from .settings import SettingsError, load
from .ui.web import PRESENTER, VIEWER, SessionServer, serve

# Flags `serve` handles itself rather than passing on to the sessions (by their dest).
NOT_FORWARDED = {"help", "version", "demo", "demo_attach", "speed", "extra_jobs", "tour", "read_only"}
PATH_FLAGS = {"jobs_dir", "probe_ca"}  # made absolute: a viewer's session runs in a scratch folder


# --- the command line --------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """`nomadtui`'s own flags (the connection, --demo, --tour, the probe) plus the server's."""
    p = argparse.ArgumentParser(
        prog="nomadtui serve",
        parents=[cli.parser()],
        add_help=False,
        description="Serve nomadtui to browsers: each tab is its own session, read-only unless it is the "
        "presenter's. Prints the address to open, with its random token.",
    )
    s = p.add_argument_group("serve")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks a free one)")
    s.add_argument(
        "--max-sessions", type=int, default=20, metavar="N", help="at most N browser sessions at once (default 20)"
    )
    s.add_argument(
        "--presenter",
        action="store_true",
        help="also print a presenter address: its one session can change the cluster (and plays --tour)",
    )
    s.add_argument("--allow-actions", action="store_true", help="every session can change the cluster")
    return p


def refusal(args: argparse.Namespace) -> str | None:
    """Why these flags cannot be served, in one sentence; None when they can."""
    refused = cli.refusal(args)
    if refused:
        return refused
    if not 0 <= args.port <= 65535:
        return f"--port is {args.port}, not between 0 and 65535"
    if args.max_sessions < 1:
        return f"--max-sessions is {args.max_sessions}: at least one session is needed"
    if args.presenter and args.max_sessions < 2:
        return "--max-sessions must be at least 2 with --presenter: one place is kept for the presenter"
    if args.tour and not (args.presenter or args.allow_actions):
        return "--tour is played by the session that can act: add --presenter (or --allow-actions)"
    if args.read_only and (args.presenter or args.allow_actions):
        return "--read-only leaves nothing for --presenter or --allow-actions to do: drop one"
    if args.demo:
        return None
    try:  # the sessions would each fail on the same sentence
        load({k: getattr(args, k) for k in cli.SETTINGS_FLAGS})
    except SettingsError as e:
        return str(e)
    return None


def forwarded(args: argparse.Namespace) -> list[str]:
    """The flags a session's `nomadtui` gets from these: each of `nomadtui`'s own that was given,
    but those `serve` handles itself (the demo, --tour, --read-only)."""
    out: list[str] = []
    for action in cli.parser()._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or action.dest in NOT_FORWARDED:
            continue
        if value is None or value is False or value == action.default:
            continue
        flag = next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])
        if action.nargs == 0:
            out.append(flag)
            continue
        if action.dest in PATH_FLAGS:
            value = os.path.abspath(value)
        out += [flag, str(value)]
    return out


def session_argv(args: argparse.Namespace, role: str, demo_attach: str | None) -> list[str]:
    """The command a session of this role runs. The token never rides on it: NOMAD_TOKEN and the
    rest travel in the environment, as for `nomadtui` itself."""
    argv = [sys.executable, "-m", "nomadtui", *forwarded(args)]
    if demo_attach is not None:
        argv += ["--demo", "--demo-attach", demo_attach]
    acts = role == PRESENTER or args.allow_actions
    if args.tour and acts:
        argv.append("--tour")
    if args.read_only or not acts:
        argv.append("--read-only")
    return argv


# --- running it --------------------------------------------------------------------------------


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def url_of(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def session_environment() -> dict[str, str]:
    """What a session's process needs on top of this one's environment: the same nomadtui as
    this process, wherever the session's folder is, and this process's id (it ends with it,
    however this one ends)."""
    package_root = str(Path(cli.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, cli.SERVE_PID: str(os.getpid())}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    refused = refusal(args)
    if refused:
        print(f"nomadtui serve: {refused}", file=sys.stderr)
        return 2
    try:
        sock = listen(args.host, args.port)
    except OSError as e:
        print(f"nomadtui serve: cannot listen on {args.host} port {args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.WARNING, format="nomadtui serve: %(message)s", stream=sys.stderr)
    demo, attach = None, None
    if args.demo:
        from .demo.cluster import DEFAULT_SPEED, JOBS_DIR
        from .demo.server import DemoServer

        demo = DemoServer(speed=args.speed or DEFAULT_SPEED, extra_jobs=args.extra_jobs).start()
        attach = cli.AttachedDemo.describe(demo, JOBS_DIR)
    try:
        tokens = {VIEWER: secrets.token_urlsafe(24)}
        if args.presenter:
            tokens[PRESENTER] = secrets.token_urlsafe(24)
        server = SessionServer(
            {role: session_argv(args, role, attach) for role in (VIEWER, PRESENTER)},
            tokens,
            max_sessions=args.max_sessions,
            title="nomadtui — demo cluster" if demo is not None else "nomadtui",
            env=session_environment(),
        )
        server.on_session = lambda line: print(line, flush=True)
        base = url_of(args.host, sock.getsockname()[1])
        lines = [f"{role if role == PRESENTER else 'serve'} {base}/?token={token}" for role, token in tokens.items()]
        if demo is not None:
            lines += [f"nomad {demo.nomad_url}", f"fabio {demo.fabio_url}"]
        asyncio.run(serve(server, sock, lines))
    finally:
        if demo is not None:
            demo.stop()
    return 0
