"""Job files as an operator picks them: one that names another namespace goes there and the list
follows it; a slow parse is a wait with a clock, not an unreachable cluster."""

from __future__ import annotations

from bench.storm import StormProxy
from nomadtui.demo.cluster import SEED_JOB_FILE
from nomadtui.harness.drive import Walkthrough, screen_text
from nomadtui.settings import Settings
from nomadtui.ui.app import NomadApp
from nomadtui.ui.screens.dialogs import BusyScreen, FilePickerScreen
from nomadtui.ui.screens.main import MainScreen
from nomadtui.ui.screens.plan import PlanScreen


def staging_file(folder, job_id: str = "web-staging"):
    source = SEED_JOB_FILE.read_text().replace(
        'job "httpsbackend-sni-1" {', f'job "{job_id}" {{\n  namespace = "staging"', 1
    )
    path = folder / "staging.nomad"
    path.write_text(source)
    return path


def notified(app: NomadApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def plan_and_run(w: Walkthrough, pilot, path) -> str:
    await pilot.press("r")
    await w.until(lambda: isinstance(w.app.screen, FilePickerScreen))
    await pilot.press("tab", *str(path), "enter")
    await w.until(lambda: isinstance(w.app.screen, PlanScreen))
    plan = screen_text(w.app)
    await pilot.press("y")
    await w.until(lambda: isinstance(w.app.screen, MainScreen))
    return plan


async def test_a_job_file_for_another_namespace_is_registered_there_and_shown(demo, make_app, tmp_path):
    path = staging_file(tmp_path)
    app = make_app(jobs_dir=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        w = Walkthrough(app, pilot, demo)
        await w.until(lambda: app.live.state.jobs)
        plan = await plan_and_run(w, pilot, path)
        assert "-namespace=staging" in plan
        await w.until(lambda: notified(app, "Registered job web-staging version 0 in namespace staging"))
        assert notified(app, "Now showing namespace staging.") and "Registered job web-staging" in screen_text(app)
        assert ("staging", "web-staging") in demo.cluster.store.jobs
        assert ("default", "web-staging") not in demo.cluster.store.jobs
        await w.until(
            lambda: (
                [j.id for j in app.live.state.jobs] == ["web-staging"]
                and app.live.state.job is not None
                and app.live.state.job.id == "web-staging"
            )
        )
        assert app.live.namespace == "staging" and "ns=staging" in screen_text(app).splitlines()[-2]


async def test_with_every_namespace_shown_each_job_says_where_it_is(demo, make_app, tmp_path):
    path = staging_file(tmp_path)
    app = make_app(jobs_dir=tmp_path, namespace="*")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        w = Walkthrough(app, pilot, demo)
        await w.until(lambda: app.live.state.jobs)
        await plan_and_run(w, pilot, path)
        await w.until(lambda: {j.id for j in app.live.state.jobs} == {"httpsbackend-sni-1", "web-staging"})
        await w.until(lambda: "staging/web-staging" in screen_text(app) and "default/httpsbackend-" in screen_text(app))
        assert app.live.namespace == "*"


async def test_a_slow_parse_is_a_wait_not_an_outage(demo, make_app, tmp_path, scripted):
    proxy = StormProxy(demo.nomad_url)
    proxy.delays["/v1/jobs/parse"] = 3.0
    (tmp_path / "web.nomad").write_text(SEED_JOB_FILE.read_text())
    with scripted(proxy) as server:
        app = NomadApp(Settings(address=server.url, jobs_dir=tmp_path, cluster="slow"), clock=demo.cluster.clock.now)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            w = Walkthrough(app, pilot, demo)
            await w.until(lambda: app.live.state.live)
            await pilot.press("r")
            await w.until(lambda: isinstance(app.screen, FilePickerScreen))
            await pilot.press("enter")
            await w.until(lambda: isinstance(app.screen, BusyScreen))
            await w.until(lambda: "s so far" in screen_text(app) and "0s so far" not in screen_text(app))
            text = screen_text(app)
            assert "Nomad is still parsing web.nomad" in text and "Nomad is working on it" in text
            assert "offline" not in text and "Cannot reach" not in text
            await w.until(lambda: isinstance(app.screen, PlanScreen), timeout=10)
            await pilot.press("escape")
            await w.until(lambda: isinstance(app.screen, MainScreen))
            # esc on the wait stops waiting: nothing is registered, the app carries on.
            await pilot.press("r")
            await w.until(lambda: isinstance(app.screen, FilePickerScreen))
            await pilot.press("enter")
            await w.until(lambda: isinstance(app.screen, BusyScreen))
            await pilot.press("escape")
            await w.until(
                lambda: notified(app, "Stopped waiting for Nomad to parse web.nomad. Nothing was registered.")
            )
            assert isinstance(app.screen, MainScreen)
