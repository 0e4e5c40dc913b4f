"""Read-only mode exposes no action, cancelling changes nothing, every error is a readable
message while the app keeps running, and the help screen is generated from the keys."""

from __future__ import annotations

from nomadtui.demo.clock import ManualClock
from nomadtui.demo.cluster import JOBS_DIR, Cluster
from nomadtui.demo.server import DemoServer
from nomadtui.harness.drive import Walkthrough, demo_app, driven, screen_text
from nomadtui.settings import Secret, Settings
from nomadtui.ui.app import NomadApp
from nomadtui.ui.screens.dialogs import ConfirmScreen, ErrorScreen, FilePickerScreen
from nomadtui.ui.screens.help import HelpScreen
from nomadtui.ui.screens.main import MainScreen
from nomadtui.ui.screens.plan import PlanScreen
from nomadtui.ui.screens.revert import RevertScreen
from tests.helpers import fingerprint, http

JOB = "httpsbackend-sni-1"


ACTION_KEYS = ("r", "p", "R", "F", "z")


async def test_read_only_offers_no_action(demo, make_app):
    app = make_app(read_only=True)
    async with driven(app, demo) as (w, pilot):
        text = screen_text(app)
        assert "READ-ONLY" in text
        footer = text.splitlines()[-1]
        for label in ("r Run", "p Promote", "R Revert", "F Fail", "z Pause"):
            assert label not in footer
        assert "q Quit" in footer and "? Keys" in footer
        before = fingerprint(demo)
        for key in ACTION_KEYS:
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, MainScreen)
        assert fingerprint(demo) == before
        app.clear_notifications()
        await pilot.press("r")
        # (headless tests draw no toasts: the notification itself is what the user would read)
        await w.until(lambda: any(n.message.startswith("Read-only: r (run a job") for n in app._notifications))
        app.clear_notifications()

        await pilot.press("question_mark")
        await w.until(lambda: isinstance(app.screen, HelpScreen))
        help_text = screen_text(app)
        assert "Quit" in help_text and "Filter" in help_text and "Down" in help_text
        for label in ("Run a job file", "Promote the canaries", "Revert to", "Fail the running"):
            assert label not in help_text
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"promote")
        await pilot.pause(0.5)
        assert "Promote" not in screen_text(app)
        await pilot.press("escape")


async def test_help_lists_every_key(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await pilot.press("question_mark")
        await w.until(lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        lines = {
            label: line
            for line in text.splitlines()
            for label in (
                "Run a job file, with a plan preview first",
                "Promote the canaries",
                "Revert to an earlier job version",
                "Fail the running deployment",
                "Pause or resume the deployment",
                "Filter the list in focus",
                "Quit",
                "Refresh now",
                "Save screenshot",
                "Down",
                "Last row",
            )
            if f" {label} " in f"{line} "
        }
        for key, label in (
            ("r", "Run a job file, with a plan preview first"),
            ("p", "Promote the canaries"),
            ("R", "Revert to an earlier job version"),
            ("F", "Fail the running deployment"),
            ("z", "Pause or resume the deployment"),
            ("/", "Filter the list in focus"),
            ("q", "Quit"),
            ("^r", "Refresh now"),
            ("^s", "Save screenshot"),
            ("j", "Down"),
            ("G", "Last row"),
        ):
            assert key in lines[label].split(label)[0].replace(",", " ").split(), (key, lines[label])
        # Each key once, grouped for a person; no internal names.
        assert text.count("palette") <= 1
        assert "Jobs and the job in focus" in text and "Everywhere" in text
        for line in text.splitlines():
            assert not line.rstrip(" │").endswith((" screen", " list", " app")), line


async def test_cancelling_changes_nothing(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
        await w.advance(31)
        before = fingerprint(demo)

        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("escape")
        await w.open_plan("httpsbackend-tcp-sni-1-blue-green.nomad")
        await pilot.press("n")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        for key, cancel in (("p", "escape"), ("F", "n"), ("z", "escape")):
            await pilot.press(key)
            await w.until(lambda: isinstance(app.screen, ConfirmScreen))
            assert "$ nomad deployment" in screen_text(app)
            await pilot.press(cancel)
            await w.until(lambda: isinstance(app.screen, MainScreen))
        await pilot.press("R")
        await w.until(lambda: isinstance(app.screen, RevertScreen))
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        await pilot.pause(0.2)
        assert fingerprint(demo) == before


async def test_pause_resume_and_fail_from_the_keyboard(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.run("httpsbackend-tcp-sni-1-canary-fail.nomad")
        for key, status in (("z", "paused"), ("z", "running"), ("F", "failed")):
            await pilot.press(key)
            await w.until(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await w.until(lambda: isinstance(app.screen, MainScreen))
            await w.advance(0)
            deployments = http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployments").json()
            by_version = {d["JobVersion"]: d for d in deployments}
            assert by_version[1]["Status"] == status
        # auto_revert: failing wrote the stable version back as version 2, which rolls out.
        assert http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()["Version"] == 2
        await w.until_deployment("successful")
        assert "version 2 (stable)" in screen_text(app)


async def test_a_file_that_does_not_parse(demo, make_app, tmp_path):
    broken = tmp_path / "broken.nomad"
    broken.write_text((JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text().replace("count = 3", "count = = 3"))
    app = make_app(jobs_dir=tmp_path)
    app.jobs_dir = tmp_path
    async with driven(app, demo) as (w, pilot):
        before = fingerprint(demo)
        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("enter")
        await w.until(lambda: isinstance(app.screen, ErrorScreen))
        text = screen_text(app)
        line = next(i for i, t in enumerate(broken.read_text().splitlines(), 1) if "= = 3" in t)
        assert f"broken.nomad, line {line}, column" in text and "count = = 3" in text and "^" in text
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        assert fingerprint(demo) == before
        await pilot.press("r")  # still running and usable
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("escape")


async def test_refused_promotion_is_explained(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.run("httpsbackend-tcp-sni-1-canary-1.nomad")
        await w.advance(1)
        before = fingerprint(demo)
        await pilot.press("p")
        await w.until(lambda: isinstance(app.screen, ConfirmScreen))
        assert "Canaries are not healthy yet" in screen_text(app)
        await pilot.press("y")
        await w.until(lambda: isinstance(app.screen, ErrorScreen))
        assert app.screen.error.message.endswith('Task group "httpsbackend-sni-1" has 0/1 healthy allocations')
        assert 'Task group "httpsbackend-sni-1" has 0/1 healthy' in screen_text(app)
        await pilot.press("escape")
        assert fingerprint(demo) == before


async def test_a_job_changed_since_the_plan_is_not_overwritten(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.open_plan("httpsbackend-tcp-sni-1-canary-1.nomad")
        # Meanwhile another operator rolls out v1.0.1.
        other = http.post(
            f"{demo.nomad_url}/v1/jobs/parse",
            json={"JobHCL": (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()},
        ).json()
        http.post(f"{demo.nomad_url}/v1/jobs", json={"Job": other}).raise_for_status()
        await pilot.press("y")
        await w.until(lambda: isinstance(app.screen, ConfirmScreen) and not isinstance(app.screen, PlanScreen))
        assert "The job changed since the plan" in screen_text(app)
        assert http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()["Version"] == 1  # not overwritten
        await pilot.press("y")  # plan again
        await w.until(lambda: isinstance(app.screen, PlanScreen))
        assert "v1.0.1" in screen_text(app)  # the new plan diffs against what runs now
        await pilot.press("y")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        assert http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()["Version"] == 2


async def test_an_unreachable_cluster_is_a_status_line_not_a_crash():
    app = NomadApp(Settings(address="http://127.0.0.1:9", cluster="nowhere"))
    async with app.run_test(size=(120, 40)) as pilot:
        w = Walkthrough(app, pilot, None)
        await w.until(lambda: "Nomad: connection refused" in screen_text(app))
        status = screen_text(app).splitlines()[-2]
        assert status.lstrip().startswith("○ offline ·") and ("retry in" in status or "retrying now" in status)
        assert "live" not in status
        await pilot.press("question_mark")  # the whole sentence is in the help
        await w.until(lambda: isinstance(app.screen, HelpScreen))
        assert "Cannot reach Nomad at http://127.0.0.1:9: connection refused." in screen_text(app)


async def test_a_denied_token_is_explained_and_never_shown():
    with DemoServer(Cluster(ManualClock(), seed=5), acl_tokens={"s3cret-reader": "read"}) as demo:
        app = NomadApp(
            Settings(address=demo.nomad_url, token=Secret("s3cret-reader"), jobs_dir=JOBS_DIR, cluster="secured"),
            clock=demo.cluster.clock.now,
        )
        async with app.run_test(size=(120, 40)) as pilot:
            w = Walkthrough(app, pilot, demo)
            await w.until(lambda: app.live.state.job is not None)
            await pilot.press("r")
            await w.until(lambda: isinstance(app.screen, FilePickerScreen))
            await pilot.press("tab", *str(JOBS_DIR / "httpsbackend-tcp-sni-1-canary-1.nomad"), "enter")
            await w.until(lambda: isinstance(app.screen, ErrorScreen))
            text = screen_text(app)
            assert "Permission denied" in text and "'submit-job'" in text
            assert "s3cret" not in text
            await pilot.press("escape")
            assert "s3cret" not in screen_text(app) and "s3cret" not in app.export_screenshot()


async def test_filter_and_palette(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await pilot.press("slash", *"nothing-like-this")
        await w.until(lambda: "No match for “nothing-like-this”" in screen_text(app))
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert "httpsbackend-sni-1" in screen_text(app).split("\n")[2]
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"run job")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("escape")


async def test_an_outage_is_whole_at_80_columns_and_the_panels_look_stale(demo, make_app):
    app = make_app()
    async with driven(app, demo, size=(80, 24)) as (w, pilot):
        assert "stale" not in screen_text(app)
        demo.stop()
        await w.until(lambda: "Nomad: connection refused" in screen_text(app), timeout=15)
        # The lists the stream kept current fail as soon as they are read again (at once).
        await w.until(lambda: "Jobs · stale " in screen_text(app) and "Allocations · stale " in screen_text(app))
        text = screen_text(app)
        status = text.splitlines()[-2].strip()
        assert status.startswith("○ offline ") and " · Nomad: connection refused" in status
        assert "Jobs · stale " in text and "Allocations · stale " in text
        assert "live" not in status
        assert all(app.main_screen.query_one(panel).has_class("-stale") for panel in ("#jobs", "#allocs", "#summary"))


async def test_the_resume_dialog_names_the_deadline_the_cluster_will_apply():
    """At demo speed the cluster waits a job's durations divided by the speed: the dialog says
    so, rather than the job's 2m0s the screen's countdown would contradict."""
    fast = DemoServer(Cluster(ManualClock(speed=10), seed=7), seed=7).start()
    try:
        app = demo_app(fast)
        async with driven(app, fast) as (w, pilot):
            await w.run("httpsbackend-tcp-sni-1-canary-fail.nomad")
            for _ in range(2):
                await pilot.press("z")
                await w.until(lambda: isinstance(app.screen, ConfirmScreen))
                text = screen_text(app)
                await pilot.press("y")
                await w.until(lambda: isinstance(app.screen, MainScreen))
            assert "its progress deadline starts again (12s: the" in text
            assert "job's 2m0s at demo speed ×10)." in text
    finally:
        fast.stop()
