"""Command line: `nomadtui` (the TUI), `nomadtui --demo`, `nomadtui demo-server`,
`nomadtui serve` (the TUI in browsers), `nomadtui screenshots`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from . import __version__
from .probe import ProbeConfig
from .settings import TLS, SettingsError, check_address, check_folder, load


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nomadtui",
        description="A live terminal UI for Nomad rollouts behind Fabio. Connection settings come from these "
        "flags, then NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION, NOMAD_CACERT, NOMAD_CAPATH, "
        "NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY, NOMAD_HTTP_AUTH "
        "and FABIO_ADDR, then the config file.",
        epilog="Also: `nomadtui serve` (in browsers), `nomadtui demo-server` (the demo cluster alone) and "
        "`nomadtui screenshots`.",
    )
    p.add_argument("--demo", action="store_true", help="start the embedded demo cluster and connect to it")
    p.add_argument("--addr", dest="address", help="Nomad address (default $NOMAD_ADDR or http://127.0.0.1:4646)")
    p.add_argument("--namespace", "-n", help="namespace (default $NOMAD_NAMESPACE or default; * for all)")
    p.add_argument("--region", help="region (default $NOMAD_REGION)")
    p.add_argument("--fabio-addr", dest="fabio_address", help="Fabio admin API address (default $FABIO_ADDR)")
    p.add_argument("--cluster", help="a cluster named in the config file")
    p.add_argument("--jobs-dir", type=Path, help="folder the run dialog lists job files from (default: here)")
    p.add_argument("--read-only", action="store_true", default=None, help="no key changes the cluster")
    p.add_argument(
        "--tls-skip-verify",
        dest="skip_verify",
        action="store_true",
        default=None,
        help="do not verify Nomad's TLS certificate (like NOMAD_SKIP_VERIFY=true)",
    )
    p.add_argument("--speed", type=float, default=None, help="with --demo: how many times faster rollouts run")
    p.add_argument("--tour", action="store_true", help="with --demo: play the article's walkthrough step by step")
    p.add_argument(
        "--extra-jobs",
        type=int,
        default=0,
        metavar="N",
        help="with --demo: also run N small service jobs, to try a big cluster",
    )
    # With --demo: connect to the demo cluster `nomadtui serve --demo` started, not a new one.
    p.add_argument("--demo-attach", type=AttachedDemo.parse, help=argparse.SUPPRESS)
    probe = p.add_argument_group("traffic probe", "measure where requests really go (on by default with --demo)")
    probe.add_argument("--probe-url", help="send requests to this URL (e.g. a Fabio listener)")
    probe.add_argument("--probe-host", help="Host header to send (the route to probe)")
    probe.add_argument("--probe-sni", help="TLS server name to send, for https probe URLs")
    probe.add_argument("--probe-ca", help="CA certificates (PEM file) to verify an https probe URL with")
    probe.add_argument("--probe-regex", help=r"where the version is in the answer (default: version:\s*(\S+))")
    probe.add_argument("--probe-header", help="read the version from this response header instead")
    probe.add_argument("--probe-rate", type=float, default=5.0, help="requests per second (default 5, at most 50)")
    probe.add_argument("--no-probe", action="store_true", help="with --demo: do not probe")
    p.add_argument("--version", action="version", version=f"nomadtui {__version__}")
    return p


# The flags that are connection settings (settings.load's), by their dest.
SETTINGS_FLAGS = ("address", "namespace", "region", "fabio_address", "cluster", "jobs_dir", "read_only", "skip_verify")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo-server"]:
        from .demo.__main__ import main as demo_main

        return demo_main(argv[1:])
    if argv[:1] == ["serve"]:
        from .serve import main as serve_main

        return serve_main(argv[1:])
    if argv[:1] == ["screenshots"]:
        from .harness.screenshots import main as screenshots_main

        return screenshots_main(argv[1:])
    args = parser().parse_args(argv)
    return run_tui(args)


class AttachedDemo:
    """A demo cluster another process started (`nomadtui serve --demo`, for all its sessions): its
    addresses, CA file and speed as DemoServer has them, so a session looks as `nomadtui --demo`
    does (DEMO badge, probe, tour) without a cluster of its own. Passed as --demo-attach JSON."""

    def __init__(
        self, nomad_url: str, fabio_url: str, lb_url: str, sni_url: str, ca_path: str, speed: float, jobs_dir: str
    ) -> None:
        self.nomad_url, self.fabio_url, self.lb_url, self.sni_url = nomad_url, fabio_url, lb_url, sni_url
        self.ca = argparse.Namespace(path=ca_path)
        self.speed = speed
        self.jobs_dir = Path(jobs_dir)  # the article's job files (the tour plays them)

    @staticmethod
    def describe(demo, jobs_dir: Path) -> str:
        """The --demo-attach value for a running DemoServer whose job files are in `jobs_dir`."""
        urls = {k: getattr(demo, k) for k in ("nomad_url", "fabio_url", "lb_url", "sni_url")}
        return json.dumps({**urls, "ca_path": str(demo.ca.path), "speed": demo.speed, "jobs_dir": str(jobs_dir)})

    @classmethod
    def parse(cls, text: str) -> AttachedDemo:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError) as e:
            raise argparse.ArgumentTypeError(f"not a demo cluster's description: {e}") from None

    def stop(self) -> None:
        """Not this process's to stop."""


def probe_config(args: argparse.Namespace, demo) -> ProbeConfig | None:
    """The probe's settings from its flags. With --demo and no --probe-url: the demo's tcp+sni
    listener, as --probe-sni with the route's host, verified against the demo's CA."""
    url, host, sni, ca = args.probe_url, args.probe_host, args.probe_sni, args.probe_ca
    if url is None and demo is not None and not args.no_probe:
        url = f"{demo.sni_url}/"
        sni = sni or host or "mysite-sni-1.com"
        host, ca = host or sni, ca or demo.ca.path
    if url is None:
        return None
    options = {
        k: v
        for k, v in (
            ("version_regex", args.probe_regex),
            ("version_header", args.probe_header),
            ("sni", sni),
        )
        if v
    }
    # Always verified: a CA file (the demo's, behind its tcp+sni listener) replaces the system CAs.
    verify = TLS(ca_cert=Path(ca)).ssl_context() if ca else True
    return ProbeConfig(url=url, host=host, rate=args.probe_rate, verify=verify, **options)


def refusal(args: argparse.Namespace) -> str | None:
    """Why these flags cannot be honoured, in one sentence; None when they can. Checked before
    the demo cluster starts or any screen opens."""
    if args.tour and not args.demo:
        return "--tour plays on the demo cluster: add --demo"
    if args.extra_jobs and not args.demo or args.extra_jobs < 0:
        return "--extra-jobs N adds N >= 0 jobs to the demo cluster: use it with --demo"
    if args.tour and args.read_only:
        return "the tour changes the demo cluster: it cannot run --read-only"
    if args.demo and args.jobs_dir:
        try:
            check_folder(args.jobs_dir, "--jobs-dir")  # before the demo cluster is started for nothing
        except SettingsError as e:
            return str(e)
    for flag, options in (
        ("--probe-rate", {"rate": args.probe_rate}),
        ("--probe-regex", {"version_regex": args.probe_regex} if args.probe_regex else {}),
    ):
        try:
            ProbeConfig(url="http://x/", **options)
        except ValueError as e:
            return f"{flag}: {e}"
    if args.probe_ca is not None:
        try:
            TLS(ca_cert=Path(args.probe_ca)).ssl_context()
        except OSError as e:
            return f"--probe-ca is {args.probe_ca!r}, which holds no CA certificate that can be read: {e}"
    if args.probe_url is not None:
        try:
            args.probe_url = check_address(args.probe_url, "--probe-url", keep_path=True)
            ProbeConfig(url=args.probe_url)
        except SettingsError as e:
            return str(e)
        except ValueError as e:
            return f"--probe-url: {e}"
    return None


SERVE_PID = "NOMADTUI_SERVE_PID"  # set in a `nomadtui serve` session's environment: the server's pid


def end_with_server(server: int) -> None:
    """A `nomadtui serve` session ends when its server does, even one killed outright: its stdin
    and stdout are then pipes to nowhere, which Textual's web driver does not notice."""

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="nomadtui-serve-watch", daemon=True).start()


def run_tui(args: argparse.Namespace) -> int:
    refused = refusal(args)
    if refused:
        print(f"nomadtui: {refused}", file=sys.stderr)
        return 2
    if os.environ.get(SERVE_PID):
        end_with_server(int(os.environ[SERVE_PID]))
    flags = {k: getattr(args, k) for k in SETTINGS_FLAGS}
    demo, article_jobs = None, None
    if args.demo:
        if args.demo_attach is not None:
            demo = args.demo_attach  # started (and stopped) by `nomadtui serve --demo`
            article_jobs = demo.jobs_dir
        else:
            from .demo.cluster import DEFAULT_SPEED, JOBS_DIR
            from .demo.server import DemoServer

            demo = DemoServer(speed=args.speed or DEFAULT_SPEED, extra_jobs=args.extra_jobs).start()
            article_jobs = JOBS_DIR
        flags.update(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=args.jobs_dir or article_jobs)
    try:
        # The demo ignores the user's NOMAD_* environment and config-file clusters (keys still apply).
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "FABIO_"))} if demo else None
        settings = load(flags, env=env, clusters=demo is None)
    except SettingsError as e:
        if demo is not None:
            demo.stop()
        print(f"nomadtui: {e}", file=sys.stderr)
        return 2
    from .ui.app import NomadApp

    app = NomadApp(
        settings,
        demo=demo is not None,
        demo_speed=demo.speed if demo is not None else 1.0,
        probe=probe_config(args, demo),
        tour=article_jobs if args.tour else None,
        freeze_heap=True,
    )
    try:
        app.run()
    finally:
        if demo is not None:
            demo.stop()
    # The terminal is restored and nothing is left to save: skip the interpreter's teardown
    # (a quarter of a second of freeing modules), so `q` feels instant.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
