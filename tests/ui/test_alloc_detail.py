"""What the on-call engineer sees of allocations: the newest in view, an unhealthy canary
called what it is, and `enter` on an allocation saying why it is unwell."""

from __future__ import annotations

from nomadtui.harness.drive import driven, screen_text
from nomadtui.ui.screens.alloc import AllocScreen
from nomadtui.ui.screens.dialogs import ConfirmScreen
from nomadtui.ui.screens.main import MainScreen
from tests.helpers import http, roll_out

JOB = "httpsbackend-sni-1"


def allocation_rows(text: str) -> list[str]:
    """The allocation lines on screen (right pane), top to bottom."""
    out = []
    for line in text.splitlines():
        right = line.split("▕", 1)[-1].strip()
        words = right.split()
        if len(words) > 5 and len(words[0]) == 8 and words[3] in ("run", "stop"):
            out.append(right)
    return out


async def test_the_newest_allocations_stay_in_view_and_running_ones_come_first(demo, make_app):
    roll_out(
        demo,
        "httpsbackend-tcp-sni-1-rolling-update.nomad",
        "httpsbackend-tcp-sni-1-canary-1.nomad",
        "httpsbackend-tcp-sni-1-canary-2.nomad",
    )
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.run("httpsbackend-tcp-sni-1-rolling-update.nomad")
        await w.until_deployment("successful")
        assert len(app.live.state.allocations) > 13  # more than the table shows
        rows = allocation_rows(screen_text(app))
        newest = max(app.live.state.allocations, key=lambda a: a.create_index)
        assert rows[0].startswith(newest.id[:8])  # the newest, at the top, without scrolling
        live = [r for r in rows if " run " in r and "running" in r]
        assert rows[: len(live)] == live  # running first, stopped ones after


async def test_an_unhealthy_canary_is_called_unhealthy_and_enter_says_why(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.run("httpsbackend-tcp-sni-1-canary-fail.nomad")

        def unhealthy() -> bool:
            d = app.live.state.latest_deployment
            return d is not None and d.status == "running" and d.canaries_unhealthy > 0

        for _ in range(60):
            if unhealthy():
                break
            await w.advance(5)
        assert unhealthy()
        text = screen_text(app)
        assert "✗ canary unhealthy (1 of 1)" in text
        assert "1 unhealthy" in text
        assert "✗ httpsbackend-sni-1" in text  # the jobs list marks it
        assert "canaries starting" not in text

        await pilot.press("tab", "tab", "enter")  # the allocations, the newest (the canary)
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await w.settled()
        text = screen_text(app)
        canary = next(a for a in app.live.state.allocations if a.canary)
        assert f"ID                 {canary.id}" in text
        assert "Why: " in text and "Task httpsbackend-sni-1" in text
        assert "Received" in text and "Started" in text  # the task's events
        assert "Canary             yes" in text
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, MainScreen))


async def test_restart_and_stop_are_confirmed_with_their_commands(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        alloc = next(a for a in app.live.state.allocations if a.running)
        await pilot.press("tab", "tab", "enter")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        alloc = app.screen.alloc
        assert alloc is not None
        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, ConfirmScreen))
        assert f"nomad alloc restart -address={demo.nomad_url} {alloc.id}" in screen_text(app)
        await pilot.press("c")  # the whole command to the clipboard, however it wraps on screen
        assert app.clipboard == f"nomad alloc restart -address={demo.nomad_url} {alloc.id}"
        await pilot.press("n")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await pilot.press("S")
        await w.until(lambda: isinstance(app.screen, ConfirmScreen))
        assert f"nomad alloc stop -address={demo.nomad_url} {alloc.id}" in screen_text(app)
        await pilot.press("y")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await w.advance(1)
        stopped = http.get(f"{demo.nomad_url}/v1/allocation/{alloc.id}").json()
        assert stopped["DesiredStatus"] == "stop"


async def test_read_only_has_no_restart_or_stop(demo, make_app):
    app = make_app(read_only=True)
    async with driven(app, demo) as (w, pilot):
        await pilot.press("tab", "tab", "enter")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await pilot.pause(0.1)
        footer = screen_text(app).splitlines()[-1]
        assert "Logs" in footer and "Restart" not in footer and "Stop" not in footer
        await pilot.press("S")
        await pilot.pause(0.2)
        assert isinstance(app.screen, AllocScreen)  # nothing asked, nothing done


async def test_l_shows_the_task_log_and_follows_it(demo, make_app):
    from nomadtui.ui.screens.logs import LogsScreen

    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await pilot.press("tab", "tab", "enter")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await pilot.press("l")
        await w.until(lambda: isinstance(app.screen, LogsScreen))
        await w.until(lambda: "httpsbackendservice v1.0.0 listening" in screen_text(app))
        assert "stdout of task httpsbackend-sni-1" in screen_text(app) and "following" in screen_text(app)
        # A request served through Fabio's listener is an access line, followed as it is written.
        for _ in range(30):  # Fabio spreads them over three allocations: some reach this one
            http.get(f"{demo.lb_url}/nomadtui-test", headers={"Host": "mysite-sni-1.com"})
        await w.until(lambda: "path=/nomadtui-test" in screen_text(app))
        await pilot.press("s")  # stderr: nothing crashed, nothing written
        await w.until(lambda: "stderr of task" in screen_text(app))
        assert "path=/nomadtui-test" not in screen_text(app)
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, AllocScreen))


async def test_enter_shows_the_checks_nomad_reports_and_says_when_it_reports_none(demo, make_app):
    from tests.demo.test_alloc_checks import nomad_provider_job, run

    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await pilot.press("tab", "tab", "enter")
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await w.until(lambda: "Nomad reports no check results for this allocation" in screen_text(app))
        assert "Consul runs this job's checks" in " ".join(screen_text(app).split())
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, MainScreen))

        run(demo, nomad_provider_job())
        await w.advance(0)
        await w.until(lambda: (d := app.live.state.latest_deployment) is not None and d.job_version == 1)
        await w.until_deployment("successful")
        await pilot.press("enter")  # the allocations keep focus: the newest, a running one
        await w.until(lambda: isinstance(app.screen, AllocScreen))
        await w.until(lambda: "nomad: http ok" in screen_text(app))
        row = next(line for line in screen_text(app).splitlines() if "nomad: http ok" in line)
        assert row.split()[:6] == [JOB, "alive", JOB, "healthiness", "success", "200"]  # a task's service
