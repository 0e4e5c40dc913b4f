"""`nomadtui screenshots`: drive the app headless against the demo cluster through the article's
walkthrough and write `screenshots/*.svg`; with --browser, `screenshots/browser.png` instead: a
viewer's browser tab of `nomadtui serve --demo` while a canary waits for promotion, taken with
headless Chromium (Debian's chromium and chromium-driver, and selenium from the test extra).

The demo cluster runs on a manual clock with a fixed seed, and the app reads the same clock, so
the pictures come out the same every time: regenerate them, never edit them. (The browser's
picture is of a live cluster: its ids and ages differ from run to run.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from ..demo.clock import ManualClock
from ..demo.cluster import JOBS_DIR, Cluster
from ..demo.server import DemoServer
from ..probe import ProbeConfig
from ..ui.screens.main import MainScreen
from .drive import Walkthrough, demo_app, driven

SEED = 42
PORTS = (14646, 19998, 19999)  # fixed, so the commands in the pictures stay the same


def _demo(**kwargs) -> DemoServer:
    try:
        return DemoServer(
            Cluster(ManualClock(), seed=SEED), seed=SEED, port=PORTS[0], fabio_port=PORTS[1], lb_port=PORTS[2], **kwargs
        ).start()
    except OSError:
        return DemoServer(Cluster(ManualClock(), seed=SEED), seed=SEED, **kwargs).start()


async def take(out: Path, size: tuple[int, int] = (120, 40)) -> list[Path]:
    written: list[Path] = []
    with _demo() as demo:
        app = demo_app(demo)
        async with app.run_test(size=size) as pilot:
            w = Walkthrough(app, pilot, demo)

            def save(name: str) -> None:
                path = out / f"{name}.svg"
                path.write_text(app.export_screenshot(title=f"nomadtui — {name.replace('-', ' ')}"))
                written.append(path)

            await w.ready()
            save("main")
            await w.open_plan("httpsbackend-tcp-sni-1-canary-1.nomad")
            save("plan-preview")
            await pilot.press("escape")
            await w.until(lambda: isinstance(app.screen, MainScreen))

            await w.run("httpsbackend-tcp-sni-1-rolling-update.nomad")
            await w.advance(31.5)
            save("rolling-update")
            await w.until_deployment("successful")

            await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
            await w.advance(31)
            save("canary-weighted")
            await w.promote()
            await w.until_deployment("successful")

            await w.run("httpsbackend-tcp-sni-1-canary-2.nomad")
            await w.advance(31)
            save("canary-isolated")
            await w.promote()
            await w.until_deployment("successful")

            await w.run("httpsbackend-tcp-sni-1-blue-green.nomad")
            await w.advance(31)
            save("blue-green")
            await w.promote()
            await w.until_deployment("successful")

            await pilot.press("R")
            await w.until(lambda: not isinstance(app.screen, MainScreen))
            await pilot.pause(0.2)
            save("revert-picker")
            await pilot.press("escape")
    return written


async def take_narrow(out: Path) -> list[Path]:
    with _demo() as demo:
        app = demo_app(demo)
        async with driven(app, demo, size=(80, 24)) as (w, pilot):
            await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
            await w.advance(31)
            path = out / "main-80x24.svg"
            path.write_text(app.export_screenshot(title="nomadtui — 80x24"))
            return [path]


async def take_probe_and_timeline(out: Path) -> list[Path]:
    """Mid-canary, with the probe sending traffic through the demo's listener (real requests, so
    this picture's counts differ a little from run to run)."""
    with _demo() as demo:
        app = demo_app(demo, probe=ProbeConfig(url=f"{demo.lb_url}/", host="mysite-sni-1.com", rate=50))
        async with driven(app, demo, size=(120, 48)) as (w, pilot):
            await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
            await w.advance(31)
            await w.until(lambda: (p := app.probe) is not None and p.snapshot().answered >= 300, timeout=30)
            main = app.screen.query_one("#detail")
            main.scroll_end(animate=False)
            await pilot.pause(0.6)
            path = out / "probe-timeline.svg"
            path.write_text(app.export_screenshot(title="nomadtui — observed traffic and rollout timeline"))
            return [path]


async def take_unhealthy_canary(out: Path) -> list[Path]:
    """The canary that never turns healthy, opened with `enter`: why it is unwell."""
    from ..ui.screens.alloc import AllocScreen

    with _demo() as demo:
        app = demo_app(demo)
        async with driven(app, demo) as (w, pilot):
            await w.run("httpsbackend-tcp-sni-1-canary-fail.nomad")
            await w.advance(70)
            await pilot.press("tab", "tab", "enter")
            await w.until(lambda: isinstance(app.screen, AllocScreen))
            await pilot.pause(0.3)
            path = out / "alloc-unhealthy-canary.svg"
            path.write_text(app.export_screenshot(title="nomadtui — an unhealthy canary, opened"))
            return [path]


async def take_tour(out: Path) -> list[Path]:
    with _demo() as demo:
        app = demo_app(demo, tour=JOBS_DIR)
        async with driven(app, demo) as (w, pilot):
            tour = app.main_screen.tour
            assert tour is not None
            for _ in range(2):
                await pilot.press("space")
                await w.until(lambda: tour.phase in ("waiting", "done"))
                while tour.phase != "done":
                    await w.advance(10)
            await pilot.pause(0.3)
            path = out / "tour.svg"
            path.write_text(app.export_screenshot(title="nomadtui — guided tour"))
            return [path]


def take_browser(out: Path, size: tuple[int, int] = (1280, 800)) -> list[Path]:
    """A viewer's tab of `nomadtui serve --demo`, the canary of canary-1 healthy and waiting."""
    import tempfile

    import httpx

    from .browser import Screen, Served, chromium, chromium_missing

    missing = chromium_missing()
    if missing:
        raise SystemExit(f"nomadtui screenshots --browser: {missing}")
    with (
        tempfile.TemporaryDirectory() as config,  # no one's own keys or clusters in the picture
        Served("--demo", "--port", "0", env={"TZ": "UTC", "XDG_CONFIG_HOME": config}) as served,
        chromium(*size) as browser,
    ):
        nomad = served.value("nomad")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
        )
        browser.get(served.url)
        screen = Screen(browser)
        screen.until(lambda text: "httpsbackend-sni-1" in text)
        hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad").read_text()  # as the presenter runs it
        job = httpx.post(f"{nomad}/v1/jobs/parse", json={"JobHCL": hcl}).raise_for_status().json()
        httpx.post(f"{nomad}/v1/jobs", json={"Job": job}).raise_for_status()
        screen.until(lambda text: "⚑" in text, timeout=60)  # the canary healthy, waiting for promotion
        time.sleep(2)  # the probe's first answers from the canary, and the last frames drawn
        path = out / "browser.png"
        browser.save_screenshot(str(path))
        return [path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nomadtui screenshots", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=Path("screenshots"), help="folder for the SVGs (default: screenshots)"
    )
    parser.add_argument(
        "--browser", action="store_true", help="only screenshots/browser.png: `nomadtui serve` in headless Chromium"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.browser:
        for path in take_browser(args.out):
            print(path)
        return 0
    os.environ["TZ"] = "UTC"  # the same pictures wherever they are made
    time.tzset()

    async def both() -> list[Path]:
        return (
            await take(args.out)
            + await take_narrow(args.out)
            + await take_tour(args.out)
            + await take_unhealthy_canary(args.out)
            + await take_probe_and_timeline(args.out)
        )

    for path in asyncio.run(both()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
