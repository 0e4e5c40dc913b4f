"""`nomadtui demo-server`: the demo cluster in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import uuid

from .cluster import DEFAULT_SPEED, JOBS_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=4646, help="Nomad API port (0: pick a free one; default 4646)")
    parser.add_argument("--fabio-port", type=int, default=9998, help="Fabio admin API port (default 9998)")
    parser.add_argument("--lb-port", type=int, default=9999, help="Fabio's HTTP listener port (default 9999)")
    parser.add_argument(
        "--sni-port", type=int, default=9996, help="Fabio's tcp+sni listener port, TLS routed by SNI (default 9996)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"how many times faster than real time rollout durations elapse (default {DEFAULT_SPEED:g})",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed ids and placement for a reproducible cluster")
    parser.add_argument(
        "--extra-jobs",
        type=int,
        default=0,
        metavar="N",
        help="also run N small service jobs (service-00001...) on nodes of their own, to try a big cluster",
    )
    parser.add_argument("--empty", action="store_true", help="start with the client nodes and no jobs")
    parser.add_argument(
        "--acl", action="store_true", help="turn ACLs on: a read and a write token are made and printed at start"
    )
    parser.add_argument("--print-jobs-dir", action="store_true", help="print the folder of the demo job files and exit")


def run(args: argparse.Namespace) -> int:
    if args.print_jobs_dir:
        print(JOBS_DIR)
        return 0
    if args.speed <= 0:
        print("nomadtui demo-server: --speed must be positive", file=sys.stderr)
        return 2
    if args.extra_jobs < 0:
        print("nomadtui demo-server: --extra-jobs must be 0 or more", file=sys.stderr)
        return 2
    if args.extra_jobs and args.empty:
        print("nomadtui demo-server: --empty starts without jobs: drop --extra-jobs", file=sys.stderr)
        return 2
    # Secret IDs are UUIDs, as Nomad's are; the printed names say the policy.
    tokens = {"read": str(uuid.uuid4()), "write": str(uuid.uuid4())} if args.acl else {}
    from .server import DemoServer

    try:
        server = DemoServer(
            port=args.port,
            fabio_port=args.fabio_port,
            lb_port=args.lb_port,
            sni_port=args.sni_port,
            acl_tokens={secret: policy for policy, secret in tokens.items()} if args.acl else None,
            speed=args.speed,
            seed=args.seed,
            extra_jobs=args.extra_jobs,
            empty=args.empty,
        )
        server.start()
    except OSError as e:
        print(f"nomadtui demo-server: {e}", file=sys.stderr)
        return 1
    assert server.ca is not None
    print(f"nomad {server.nomad_url}")
    print(f"fabio {server.fabio_url}")
    print(f"lb {server.lb_url}")
    print(f"sni {server.sni_url}")
    print(f"ca {server.ca.path}")
    for policy, secret in tokens.items():
        print(f"token-{policy} {secret}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nomadtui demo-server", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
