"""The revert picker preselects the latest stable version whose specification differs from the
running one, by Nomad's own diff against it: after an auto-revert the version it copied is the
same as the running one, marked so, and not offered first. The oldest version Nomad still keeps
is "oldest kept"; only v0 is the "first version"."""

from __future__ import annotations

from textual.widgets import OptionList

from nomadtui.harness.drive import driven, screen_text
from nomadtui.model import JobVersion
from nomadtui.ui.screens.main import MainScreen
from nomadtui.ui.screens.revert import RevertScreen, changes_something, default_choice, history_note
from tests.helpers import http, register, roll_out

JOB = "httpsbackend-sni-1"


def job_version(demo) -> int:
    return http.get(f"{demo.nomad_url}/v1/job/{JOB}").json()["Version"]


def auto_reverted(demo) -> None:
    """v1..v4: the article's rollouts; v5: the canary that never turns healthy; v6: Nomad's
    auto-revert, a copy of v4, rolled out."""
    roll_out(
        demo,
        "httpsbackend-tcp-sni-1-rolling-update.nomad",
        "httpsbackend-tcp-sni-1-canary-1.nomad",
        "httpsbackend-tcp-sni-1-canary-2.nomad",
        "httpsbackend-tcp-sni-1-blue-green.nomad",
    )
    register(demo, "httpsbackend-tcp-sni-1-canary-fail.nomad")
    waited = 0
    while job_version(demo) != 6 or http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployment").json()["Status"] != (
        "successful"
    ):
        assert waited < 900, "no auto-revert"
        demo.advance(10)
        waited += 10


def line_of(text: str, version: int) -> str:
    return next(line for line in text.splitlines() if f" v{version} " in line or f"│v{version} " in line)


def highlighted(app) -> int:
    options = app.screen.query_one("#versions", OptionList)
    assert options.highlighted is not None
    return int(str(options.get_option_at_index(options.highlighted).id))


async def test_after_an_auto_revert_the_copied_version_is_not_preselected(demo, make_app):
    auto_reverted(demo)
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.until(lambda: app.live.state.job is not None and app.live.state.job.version == 6)
        await pilot.press("R")
        await w.until(lambda: isinstance(app.screen, RevertScreen))
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "Revert job httpsbackend-sni-1 (running version 6)" in text
        # v5 failed (not stable), v4 is what v6 copied: v3 is the latest stable that differs.
        assert highlighted(app) == 3
        assert "running version 6 → version 3" in text and "nomad job revert" in text and "httpsbackend-sni-1 3" in text
        assert "bigwhite/httpsbackendservice:v1.0.3" in text
        assert "Same specification" not in text
        assert "running" in line_of(text, 6)
        assert "same spec as running · image v1.0.3 → v1.0.4" in line_of(text, 4)
        assert "same spec" not in line_of(text, 3) + line_of(text, 5) + line_of(text, 6)
        # Nomad keeps six versions: v0 is gone, v1 is the oldest kept, and not a "first version".
        assert "oldest kept" in line_of(text, 1) and "first version" not in text
        assert " v0 " not in text

        # The copied version, highlighted, says reverting to it would make no new version.
        await pilot.press("up")
        assert highlighted(app) == 4
        text = screen_text(app)
        assert "Same specification as the running version: no new version would be made." in text
        await pilot.press("escape")
        await w.until(lambda: isinstance(app.screen, MainScreen))
        assert job_version(demo) == 6


async def test_v0_is_the_first_version(demo, make_app):
    roll_out(demo, "httpsbackend-tcp-sni-1-rolling-update.nomad")
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.until(lambda: app.live.state.job is not None and app.live.state.job.version == 1)
        await pilot.press("R")
        await w.until(lambda: isinstance(app.screen, RevertScreen))
        await pilot.pause(0.2)
        text = screen_text(app)
        assert highlighted(app) == 0
        assert "first version" in line_of(text, 0) and "oldest kept" not in text
        assert "image v1.0.0 → v1.0.1" in line_of(text, 1)
        assert "running version 1 → version 0" in text and "bigwhite/httpsbackendservice:v1.0.0" in text
        await pilot.press("escape")


# --- the choice, on hand-built versions ----------------------------------------------------------

EDITED = {"Type": "Edited", "ID": JOB, "Fields": [{"Type": "Edited", "Name": "Meta[x]", "Old": "1", "New": "2"}]}
SAME = {"Type": "None", "ID": JOB, "Fields": [{"Type": "None", "Name": "Priority", "Old": "50", "New": "50"}]}


def version(number: int, *, stable: bool = True, diff: dict | None = EDITED) -> JobVersion:
    return JobVersion.from_api({"ID": JOB, "Version": number, "Stable": stable}, diff)


def test_nomads_diff_decides_what_is_the_same():
    assert changes_something(SAME) is False and changes_something(EDITED) is True
    assert changes_something(None) is None
    # A change deep down counts even if a proxy or an old server left the top Type at None.
    nested = {"Type": "None", "TaskGroups": [{"Type": "None", "Tasks": [{"Type": "None", "Fields": [EDITED]}]}]}
    assert changes_something(nested) is True


def test_the_choice_order():
    versions = [version(6), version(5, stable=False), version(4), version(3), version(2)]
    against = {6: SAME, 5: EDITED, 4: SAME, 3: EDITED, 2: EDITED}
    assert default_choice(versions, against, 6) == 3
    # Nothing stable differs: a stable version Nomad gave no diff for, then any that differs.
    assert default_choice(versions, {6: SAME, 5: EDITED, 4: SAME, 3: SAME, 2: None}, 6) == 2
    assert default_choice(versions, {6: SAME, 5: EDITED, 4: SAME, 3: SAME, 2: SAME}, 6) == 5
    assert default_choice(versions, dict.fromkeys(range(7), SAME), 6) == 5
    assert default_choice([version(0, diff=None)], {0: SAME}, 0) is None


def test_history_notes():
    # Nomad keeps the latest stable version beyond its six: the diff of the next one is from it.
    versions = [version(9), version(8), version(7), version(6), version(5), version(2, diff=None)]
    assert [history_note(versions, i) for i in range(len(versions))] == [
        "Meta[x] 1 → 2",
        "Meta[x] 1 → 2",
        "Meta[x] 1 → 2",
        "Meta[x] 1 → 2",
        "since v2: Meta[x] 1 → 2",
        "oldest kept",
    ]
    assert history_note([version(1), version(0, diff=None)], 1) == "first version"
