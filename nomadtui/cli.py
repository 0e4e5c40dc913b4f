"""Command line: `nomadtui` (the TUI), `nomadtui --demo`, `nomadtui demo-server`,
`nomadtui screenshots`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .probe import ProbeConfig
from .settings import SettingsError, check_address, load


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nomadtui",
        description="A live terminal UI for Nomad rollouts behind Fabio. Connection settings come from these "
        "flags, then NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION, NOMAD_CACERT, NOMAD_CAPATH, "
        "NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY, NOMAD_HTTP_AUTH "
        "and FABIO_ADDR, then the config file.",
        epilog="Also: `nomadtui demo-server` (the demo cluster alone) and `nomadtui screenshots`.",
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
    probe = p.add_argument_group("traffic probe", "measure where requests really go (on by default with --demo)")
    probe.add_argument("--probe-url", help="send requests to this URL (e.g. a Fabio listener)")
    probe.add_argument("--probe-host", help="Host header to send (the route to probe)")
    probe.add_argument("--probe-sni", help="TLS server name to send, for https probe URLs")
    probe.add_argument("--probe-regex", help=r"where the version is in the answer (default: version:\s*(\S+))")
    probe.add_argument("--probe-header", help="read the version from this response header instead")
    probe.add_argument("--probe-rate", type=float, default=5.0, help="requests per second (default 5, at most 50)")
    probe.add_argument("--no-probe", action="store_true", help="with --demo: do not probe")
    p.add_argument("--version", action="version", version=f"nomadtui {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo-server"]:
        from .demo.__main__ import main as demo_main

        return demo_main(argv[1:])
    if argv[:1] == ["screenshots"]:
        from .harness.screenshots import main as screenshots_main

        return screenshots_main(argv[1:])
    args = parser().parse_args(argv)
    return run_tui(args)


def probe_config(args: argparse.Namespace, demo) -> ProbeConfig | None:
    url, host = args.probe_url, args.probe_host
    if url is None and demo is not None and not args.no_probe:
        url, host = f"{demo.lb_url}/", host or "mysite-sni-1.com"
    if url is None:
        return None
    options = {
        k: v
        for k, v in (
            ("version_regex", args.probe_regex),
            ("version_header", args.probe_header),
            ("sni", args.probe_sni),
        )
        if v
    }
    return ProbeConfig(url=url, host=host, rate=args.probe_rate, **options)


def refusal(args: argparse.Namespace) -> str | None:
    """Why these flags cannot be honoured, in one sentence; None when they can. Checked before
    the demo cluster starts or any screen opens."""
    if args.tour and not args.demo:
        return "--tour plays on the demo cluster: add --demo"
    if args.extra_jobs and not args.demo or args.extra_jobs < 0:
        return "--extra-jobs N adds N >= 0 jobs to the demo cluster: use it with --demo"
    if args.tour and args.read_only:
        return "the tour changes the demo cluster: it cannot run --read-only"
    for flag, options in (
        ("--probe-rate", {"rate": args.probe_rate}),
        ("--probe-regex", {"version_regex": args.probe_regex} if args.probe_regex else {}),
    ):
        try:
            ProbeConfig(url="http://x/", **options)
        except ValueError as e:
            return f"{flag}: {e}"
    if args.probe_url is not None:
        try:
            args.probe_url = check_address(args.probe_url, "--probe-url", keep_path=True)
            ProbeConfig(url=args.probe_url)
        except SettingsError as e:
            return str(e)
        except ValueError as e:
            return f"--probe-url: {e}"
    return None


def run_tui(args: argparse.Namespace) -> int:
    refused = refusal(args)
    if refused:
        print(f"nomadtui: {refused}", file=sys.stderr)
        return 2
    flags = {
        k: getattr(args, k)
        for k in ("address", "namespace", "region", "fabio_address", "cluster", "jobs_dir", "read_only", "skip_verify")
    }
    demo, article_jobs = None, None
    if args.demo:
        from .demo.cluster import DEFAULT_SPEED, JOBS_DIR
        from .demo.server import DemoServer

        demo = DemoServer(speed=args.speed or DEFAULT_SPEED, extra_jobs=args.extra_jobs).start()
        flags.update(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=args.jobs_dir or JOBS_DIR)
        article_jobs = JOBS_DIR
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
