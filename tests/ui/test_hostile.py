"""Cluster data is data: hostile names, meta, file names, file contents and error bodies are shown
literally in every panel, dialog, notification and export, never read as markup, and no control
character from them reaches the terminal."""

from __future__ import annotations

import copy
import re

import httpx
import pytest
from starlette.responses import PlainTextResponse

from nomadtui.demo.cluster import SEED_JOB_FILE
from nomadtui.harness.drive import Walkthrough, screen_text
from nomadtui.safetext import CONTROL, inert
from nomadtui.settings import Settings
from nomadtui.ui.app import NomadApp
from nomadtui.ui.screens.dialogs import ErrorScreen, FilePickerScreen
from nomadtui.ui.screens.help import HelpScreen
from nomadtui.ui.screens.main import MainScreen
from nomadtui.ui.screens.plan import PlanScreen
from nomadtui.ui.screens.revert import RevertScreen
from tests.helpers import fingerprint

# Nomad refuses spaces in job ids and slashes in task names; everything else goes.
HOSTILE = [
    "web[/]",  # unbalanced markup: used to end the app at start-up
    "[bold_red]GRP[/bold_red]",  # balanced markup
    "[link=https://evil.example]x[/link]",
    "[@click=app.quit]q[/]",
    "t\x1b]2;PWNED\x1b\\",  # OSC: sets the terminal's title
    "c\x1b[31mred\x1b[0m",  # CSI: recolours
    "d\x1bP1$r\x1b\\",  # DCS
    "c1\x9b31m",  # C1 CSI
    "bel\x07del\x7f",
    "bidi\u202eevil\u2066x\u2069",
    "wide宽字符名前e\u0301\u0301",  # wide and combining characters
    "L" * 10_000,
]
GROUP_EXTRA = ["[bold red]GRP[/bold red]", "two\nlines\ttab", "nul\x00byte"]


def hostile_job(base: dict, job_id: str, group: str, meta: str, version: int, service: str = "hostile") -> dict:
    job = copy.deepcopy(base)
    job["ID"] = job["Name"] = job_id
    tg = job["TaskGroups"][0]
    tg["Name"], tg["Count"] = group, 1
    task = tg["Tasks"][0]
    task["Name"], task["Config"]["image"] = "task", f"img:{job_id[:30]}"
    task["Services"][0]["Name"] = service
    task["Services"][0]["Tags"] = [f"urlprefix-{job_id[:30]}.example/"]
    job["Meta"] = {"note": meta, "version": str(version)}
    return job


def register_hostile(demo) -> list[str]:
    api = httpx.Client(base_url=demo.nomad_url)
    base = api.post("/v1/jobs/parse", json={"JobHCL": SEED_JOB_FILE.read_text()}).json()
    groups = HOSTILE + GROUP_EXTRA
    ids = []
    for i, job_id in enumerate(HOSTILE):
        for version in (1, 2):
            job = hostile_job(
                base, job_id, groups[(i + 3) % len(groups)], groups[(i + 5) % len(groups)], version, f"hostile-{i}"
            )
            api.post("/v1/jobs", json={"Job": job}).raise_for_status()
        ids.append(job_id)
    demo.advance(60)
    return ids


def assert_inert(app: NomadApp, *expected: str) -> str:
    """No control character in what would be written to the terminal, and each expected piece of
    outside text on screen as its visible, inert form. Returns the screen's text."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            assert not CONTROL.search(segment.text), repr(segment.text)
    text = screen_text(app)
    for piece in expected:
        assert inert(piece) in text, f"{piece!r} is not on screen:\n{text}"
    return text


HOSTILE_NOTE = r"\u001b]2;PWNED\u001b\\ [/] \u202e"
HOSTILE_HCL = r"""job "hostile-plan" {
  datacenters = ["dc1"]
  meta {
    note = "NOTE"
  }
  group "web[/]" {
    count = 1
    task "t" {
      driver = "docker"
      config {
        image = "nginx:1"
      }
    }
  }
}
""".replace("NOTE", HOSTILE_NOTE)


@pytest.fixture
def jobs_dir(tmp_path):
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "a-hostile-plan.nomad").write_text(HOSTILE_HCL)
    (folder / "b-binary.nomad").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "c-\x1b]2;PWNED\x1b\\[bold].nomad").write_text('job "x" {\n  meta { k = "\x1b[31m[/]" }\n  = = 3\n}\n')
    return folder


async def test_hostile_job_names_are_shown_literally_in_every_panel_and_dialog(
    demo, make_app, jobs_dir, tmp_path, monkeypatch
):
    ids = register_hostile(demo)
    monkeypatch.chdir(tmp_path)
    app = make_app(jobs_dir=jobs_dir)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        w = Walkthrough(app, pilot, demo)
        # Every job in the list, each one's panels in turn.
        await w.until(lambda: len(app.live.state.jobs) == len(ids) + 1)
        keys = [row.key for row in app.main_screen.query_one("#jobs").rows]
        await pilot.press("g")
        for key in keys:
            job_id = key.partition("/")[2]
            await w.until(
                lambda job_id=job_id: (
                    app.live.state.job is not None
                    and app.live.state.job.id == job_id
                    and app.live.state.allocations
                    and app.live.state.versions
                )
            )
            await w.settled()
            assert_inert(app, job_id[:60])
            await pilot.press("j")

        # The job with the longest name, then its dialogs.
        await pilot.press("g")
        await w.until(
            lambda: (
                app.live.state.job is not None
                and app.live.state.job.id == keys[0].partition("/")[2]
                and len(app.live.state.versions) == 2
            )
        )
        await pilot.press("R")
        await w.until(lambda: isinstance(app.screen, RevertScreen))
        assert_inert(app, "Revert job " + keys[0].partition("/")[2][:40])
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, MainScreen))

        for key in ("p", "F", "z"):  # "nothing to do" notifications name the job
            app.clear_notifications()
            await pilot.press(key)
            await w.until(lambda: "Nothing to do" in screen_text(app))
            assert_inert(app, "Nothing to do: the latest", "LLLLLLLLLL", "more characters)")

        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"web")
        await pilot.pause(0.5)
        assert_inert(app, "job web[/]")
        await pilot.press("escape")
        await pilot.press("question_mark")
        await w.until(lambda: isinstance(app.screen, HelpScreen))
        assert_inert(app)
        await pilot.press("escape")


async def test_hostile_files_plans_and_exports_are_inert(demo, make_app, jobs_dir, tmp_path, monkeypatch):
    ids = register_hostile(demo)
    monkeypatch.chdir(tmp_path)
    app = make_app(jobs_dir=jobs_dir)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        w = Walkthrough(app, pilot, demo)
        await w.until(lambda: len(app.live.state.jobs) == len(ids) + 1)
        await w.settled()
        # A file whose name and content are hostile: the parse error's excerpt shows it inert.
        before = fingerprint(demo)
        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        assert_inert(app, "c-\x1b]2;PWNED\x1b\\[bold].nomad")
        await pilot.press("down", "down", "enter")
        await w.until(lambda: isinstance(app.screen, ErrorScreen))
        assert_inert(app, 'meta { k = "\x1b[31m[/]" }', "^")
        await pilot.press("escape")
        # A binary file: a dialog with the offset of the first bad byte; nothing reaches Nomad.
        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("down", "enter")
        await w.until(lambda: isinstance(app.screen, ErrorScreen))
        assert_inert(
            app,
            "b-binary.nomad is not UTF-8 text: the byte 0x89 at offset 0 (line 1, column 1)",
            "nothing was sent to Nomad",
        )
        await pilot.press("escape")
        assert fingerprint(demo) == before

        # A plan whose diff and group carry hostile text, registered: the notification too.
        api = httpx.Client(base_url=demo.nomad_url)
        plain = api.post("/v1/jobs/parse", json={"JobHCL": HOSTILE_HCL.replace(HOSTILE_NOTE, "plain")}).json()
        api.post("/v1/jobs", json={"Job": plain}).raise_for_status()
        await pilot.press("r")
        await w.until(lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("enter")
        await w.until(lambda: isinstance(app.screen, PlanScreen))
        assert_inert(app, 'Task Group "web[/]"', 'Meta[note]: "plain" => "\\x1b]2;PWNED\\x1b\\\\ [/] \\u202e"')
        await pilot.press("y")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        await w.until(lambda: "Registered job hostile-plan" in screen_text(app))
        assert_inert(app, "Registered job hostile-plan")
        await w.advance(60)

        # The timeline export and a screenshot: safe file names, inert and escaped contents.
        await w.until(
            lambda: (
                app.live.state.job is not None
                and app.live.state.job.id == "hostile-plan"
                and app.live.state.latest_deployment is not None
            )
        )
        await pilot.press("ctrl+e")
        await w.until(lambda: list(tmp_path.glob("nomadtui-timeline-*.md")))
        await pilot.press("ctrl+s")
        await w.until(lambda: list(tmp_path.glob("nomadtui-*.svg")))
        assert app.title == "nomadtui" and not CONTROL.search(app.sub_title)

    (markdown,) = tmp_path.glob("nomadtui-timeline-*.md")
    text = markdown.read_text()
    assert not CONTROL.search(text.replace("\n", ""))
    assert "Task Group" not in text or "\\[/\\]" in text
    (svg,) = tmp_path.glob("nomadtui-*.svg")
    assert not CONTROL.search(svg.read_text().replace("\n", ""))


async def test_exports_of_a_job_with_a_hostile_id_are_named_safely(demo, make_app, tmp_path, monkeypatch):
    api = httpx.Client(base_url=demo.nomad_url)
    base = api.post("/v1/jobs/parse", json={"JobHCL": SEED_JOB_FILE.read_text()}).json()
    job_id = "../a/b\x1b]2;x\x07[/]"
    for version in (1, 2):
        api.post("/v1/jobs", json={"Job": hostile_job(base, job_id, "web", "m", version)}).raise_for_status()
    demo.advance(60)
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        w = Walkthrough(app, pilot, demo)
        await w.until(lambda: len(app.live.state.jobs) == 2)
        await pilot.press("g")
        await w.until(
            lambda: (
                app.live.state.job is not None and app.live.state.job.id == job_id and len(app.live.state.versions) == 2
            )
        )
        await w.settled()
        # A rollout this app sees (the timeline tells what it watched happen).
        api.post("/v1/jobs", json={"Job": hostile_job(base, job_id, "web", "m", 3)}).raise_for_status()
        await w.advance(60)
        await w.until(lambda: app.timeline.latest_deployment_events(app.live.state))
        await pilot.press("ctrl+e")
        await w.until(lambda: list(tmp_path.glob("nomadtui-timeline-*.md")))
        assert_inert(app, "Timeline saved to")
    (exported,) = tmp_path.glob("nomadtui-timeline-*.md")
    assert exported.parent == tmp_path and re.fullmatch(
        r"nomadtui-timeline-a_b_2_x-[0-9a-f]{8}-\d{8}-\d{6}\.md", exported.name
    ), exported.name
    content = exported.read_text()
    # Markdown shows `../a/b\x1b]2;x\x07[/]`: backslashes and brackets escaped, no control byte.
    assert "Rollout of ../a/b\\\\x1b\\]2;x\\\\x07\\[/\\]" in content and not CONTROL.search(content.replace("\n", ""))


async def test_an_error_body_with_escape_sequences_is_an_inert_status_line(scripted):
    body = "\x1b]2;PWNED\x1b\\[/] no \x1b[31mleader\x1b[0m"

    async def broken(scope, receive, send):
        await PlainTextResponse(body, 500)(scope, receive, send)

    with scripted(broken) as server:
        app = NomadApp(Settings(address=server.url, cluster="broken"))
        async with app.run_test(size=(200, 30), notifications=True) as pilot:
            w = Walkthrough(app, pilot, None)
            await w.until(lambda: "Nomad: 500 refused" in screen_text(app))
            assert "● live" not in assert_inert(app)
            await pilot.press("question_mark")  # the error's whole text is in the help
            await w.until(lambda: "no \\x1b[31mleader" in screen_text(app))
            assert_inert(app, "[/] no \x1b[31mleader")
