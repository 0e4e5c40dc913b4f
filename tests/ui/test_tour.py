"""The guided tour plays the whole walkthrough with nothing but space presses."""

from __future__ import annotations

from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.server import DemoServer
from nomadtui.harness.drive import Walkthrough, screen_text
from nomadtui.probe import ProbeConfig
from nomadtui.settings import Settings
from nomadtui.ui.app import NomadApp
from nomadtui.ui.tour import STEPS
from tests.helpers import http

JOB = "httpsbackend-sni-1"


async def test_the_tour_from_start_to_finish_with_space_only():
    # A real clock, fast: the tour waits for the cluster on its own, as in a presentation.
    with DemoServer(speed=150, seed=11) as demo:
        app = NomadApp(
            Settings(address=demo.nomad_url, fabio_address=demo.fabio_url, jobs_dir=JOBS_DIR, cluster="demo"),
            demo=True,
            tour=JOBS_DIR,
            probe=ProbeConfig(url=f"{demo.lb_url}/", host="mysite-sni-1.com", rate=20),
        )
        async with app.run_test(size=(120, 40)) as pilot:
            w = Walkthrough(app, pilot, demo)
            tour = app.main_screen.tour
            await w.until(lambda: app.live.state.job is not None)
            seen_titles = []
            for index in range(len(STEPS)):
                if index:
                    await pilot.press("space")
                await w.until(lambda index=index: tour.index == index and tour.phase == "done", timeout=60)
                text = screen_text(app)
                assert f"Tour {index + 1}/{len(STEPS)}: {STEPS[index].title}" in text
                seen_titles.append(STEPS[index].title)
                if STEPS[index].title == "A canary that takes production traffic":
                    # Fabio is polled on its own: its table may show up a moment later.
                    await w.until(lambda: screen_text(app).count("25.0%") == 4)
                if STEPS[index].title == "A canary on its own route":
                    assert "canary.mysite-sni-1.com/" in text
            assert seen_titles == [s.title for s in STEPS]
            job = http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()
            deployments = http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployments").json()
            statuses = sorted(d["Status"] for d in deployments)
            assert "failed" in statuses and job["Status"] == "running"
            image = job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
            assert image.endswith(":v1.0.1")  # the manual revert at the end
            await pilot.press("escape")  # leave the tour; the cluster stays
            await pilot.pause(0.2)
            assert app.main_screen.tour is None and "Tour" not in screen_text(app)
            assert http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()["Version"] == job["Version"]
