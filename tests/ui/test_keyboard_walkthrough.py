"""The article's walkthrough from the keyboard alone: what the screen shows and what the cluster did.

In three parts: each later part starts from the cluster the earlier ones leave (rolled out over
the demo's HTTP API), so that each stays short."""

from __future__ import annotations

from nomadtui.harness.drive import driven, screen_text
from nomadtui.ui.screens.main import MainScreen
from nomadtui.ui.screens.revert import RevertScreen
from tests.helpers import http, roll_out

JOB = "httpsbackend-sni-1"


def running_images(demo) -> set[str]:
    allocs = http.get(f"{demo.nomad_url}/v1/job/{JOB}/allocations").json()
    live = [a for a in allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
    return {
        http.get(f"{demo.nomad_url}/v1/allocation/{a['ID']}")
        .json()["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        .rpartition(":")[2]
        for a in live
    }


def latest(demo) -> dict:
    return http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployment").json()


async def test_rolling_update_and_a_weighted_canary(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        text = screen_text(app)
        assert "version 0 (stable)" in text and "mysite-sni-1.com/" in text
        assert text.count("33.3%") == 3 and "demo ns=default" in text and "● live" in text

        # Step 1: rolling update, one at a time.
        await w.run("httpsbackend-tcp-sni-1-rolling-update.nomad")
        text = screen_text(app)
        assert "Deployment is running" in text and "0/3 healthy" in text
        assert latest(demo)["TaskGroups"][JOB]["PlacedAllocs"] == 1
        await w.advance(31.5)
        assert "1/3 healthy" in screen_text(app)
        await w.until_deployment("successful")
        text = screen_text(app)
        assert "Deployment completed successfully" in text and "version 1 (stable)" in text
        assert running_images(demo) == {"v1.0.1"}

        # Step 2: a canary on the production route, promoted.
        await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
        await w.advance(31)
        text = screen_text(app)
        assert "⚑ ready to promote (p)" in text and "1/1 canaries healthy" in text
        assert text.count("25.0%") == 4 and "◆ canary" in text and "v1.0.2" in text
        await w.promote()
        assert latest(demo)["TaskGroups"][JOB]["Promoted"] is True
        await w.until_deployment("successful")
        assert running_images(demo) == {"v1.0.2"}


async def test_an_isolated_canary_and_blue_green(demo, make_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad", "httpsbackend-tcp-sni-1-canary-1.nomad")
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        # Step 3: the canary isolated on its own route.
        await w.run("httpsbackend-tcp-sni-1-canary-2.nomad")
        await w.advance(31)
        text = screen_text(app)
        assert "canary.mysite-sni-1.com/" in text and "◆ canary route" in text and "100.0%" in text
        assert text.count("33.3%") == 3
        await w.promote()
        await w.until_deployment("successful")
        await w.until(lambda: "◆ canary route" not in screen_text(app))  # Fabio's next poll
        # Four rollouts' allocations fill the pane: the timeline is below them, a scroll away;
        # it shows the newest steps, and ctrl+e exports every one.
        await pilot.press("tab")
        assert app.focused is app.screen.query_one("#detail")
        await pilot.press("end")
        assert "deployment successful" in screen_text(app)
        await pilot.press("shift+tab", "ctrl+e")
        await w.until(lambda: list(tmp_path.glob("nomadtui-timeline-*.md")))
        (exported,) = tmp_path.glob("nomadtui-timeline-*.md")
        assert "route canary.mysite-sni-1.com/: removed" in exported.read_text()

        # Step 4: blue-green, six running, promotion stops the old three at once.
        await w.run("httpsbackend-tcp-sni-1-blue-green.nomad")
        await w.advance(31)
        text = screen_text(app)
        assert "3/3 canaries healthy" in text and text.count("16.7%") == 6
        await w.promote()
        assert latest(demo)["Status"] == "successful"
        assert running_images(demo) == {"v1.0.4"}


async def test_revert_to_the_latest_stable_version_that_differs(demo, make_app):
    roll_out(
        demo,
        "httpsbackend-tcp-sni-1-rolling-update.nomad",
        "httpsbackend-tcp-sni-1-canary-1.nomad",
        "httpsbackend-tcp-sni-1-canary-2.nomad",
        "httpsbackend-tcp-sni-1-blue-green.nomad",
    )
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        # Step 5: revert. The picker offers the latest stable version that differs (v3, v1.0.3).
        await pilot.press("R")
        await w.until(lambda: isinstance(app.screen, RevertScreen))
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "Revert job httpsbackend-sni-1 (running version 4)" in text
        assert "nomad job revert" in text and "httpsbackend-sni-1 3" in text
        assert "running version 4 → version 3" in text and "bigwhite/httpsbackendservice:v1.0.3" in text
        await pilot.press("y")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        await w.advance(0)
        job = http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()
        assert job["Version"] == 5
        # Version 3 had a canary: the revert rolls out under its own rules, so it waits for promotion.
        await w.advance(31)
        assert "⚑ ready to promote (p)" in screen_text(app)
        await w.promote()
        await w.until_deployment("successful")
        assert running_images(demo) == {"v1.0.3"}
        assert "version 5 (stable)" in screen_text(app)
