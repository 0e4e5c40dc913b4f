"""Command line: `nomadtui` (the TUI), `nomadtui demo-server` (the demo cluster)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo-server"]:
        from .demo.__main__ import main as demo_main

        return demo_main(argv[1:])
    parser = argparse.ArgumentParser(prog="nomadtui", description="A live terminal UI for Nomad rollouts behind Fabio.")
    parser.parse_args(argv)
    print("nomadtui: the terminal UI is not built yet; run `nomadtui demo-server`.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
