"""Panels that adapt to the width they get."""

from __future__ import annotations

import io

from rich.console import Console

from nomadtui.model import JobSummary
from nomadtui.ui import render


def text(renderable, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_the_summary_drops_columns_that_are_zero_everywhere_only_when_it_must():
    summary = JobSummary.from_api(
        {
            "JobID": "web",
            "Summary": {
                "web": {"Queued": 0, "Starting": 1, "Running": 3, "Failed": 0, "Complete": 2, "Lost": 0, "Unknown": 0}
            },
        }
    )
    wide = text(render.summary_table(summary), 120).splitlines()
    assert wide[0].split() == [
        "Task",
        "Group",
        "Queued",
        "Starting",
        "Running",
        "Failed",
        "Complete",
        "Lost",
        "Unknown",
    ]
    assert wide[1].split() == ["web", "0", "1", "3", "0", "2", "0", "0"]
    narrow = text(render.summary_table(summary), 50).splitlines()
    assert narrow[0].split() == ["Task", "Group", "Starting", "Running", "Complete"]
    assert narrow[1].split() == ["web", "1", "3", "2"]
    assert "…" not in "".join(narrow)


def test_a_long_diff_value_wraps_under_itself():
    from rich.console import Console

    from nomadtui.ui.render import diff_text

    line = '      +/- image:            "bigwhite/httpsbackendservice:v1.0.0" => "bigwhite/httpsbackendservice:v1.0.1"'
    console = Console(width=80, color_system=None, record=True, file=__import__("io").StringIO())
    console.print(diff_text(line))
    first, second = console.export_text().splitlines()
    assert first.startswith("      +/- image:") and second.startswith(" " * 28 + '"bigwhite')


def test_the_probe_panel_drops_whole_columns_rather_than_cutting_them():
    """Finding 9 of issue 11: the Trend column collapsed to `…` in narrower panels."""
    from nomadtui.probe import Expectation, ProbeSnapshot, VersionStats

    def stats(name: str, share: float) -> VersionStats:
        return VersionStats(name, 100, share, share - 0.05, share + 0.05, 12.0, 45.0, 120.0, 0.0)

    snapshot = ProbeSnapshot(
        answered=200,
        errors=0,
        timeouts=0,
        sent=200,
        skipped=0,
        in_flight=0,
        versions=(stats("v1.0.0", 0.75), stats("v2.0.0", 0.25)),
        history={"v1.0.0": (0.75,) * 11 + (1.0,), "v2.0.0": (0.25,) * 11 + (0.0,)},
        started_at=0,
        as_of=1,
        rate=10,
        window=30,
    )
    expected = Expectation({"v1.0.0": 0.75, "v2.0.0": 0.25}, {"v1.0.0": 3, "v2.0.0": 1}, frozenset({"v2.0.0"}), "x")
    shown = {}
    for width in (50, 58, 64, 80):
        console = Console(width=width, color_system=None, file=io.StringIO(), record=True)
        console.print(render.probe_panel(snapshot, expected, [], "https://127.0.0.1:9996/"))
        table = console.export_text().splitlines()[1:]
        assert not any("…" in line for line in table), (width, table)
        shown[width] = table[0].split()
        last = table
    assert shown[80][-2:] == ["ms", "Trend"] and shown[64][-1] == "Trend" and "ms" not in shown[64]
    assert shown[58][-1] == "Healthy"
    assert last[1].endswith("▆▆▆▆▆▆▆▆▆▆▆█")  # the whole trend, newest last


def test_read_only_offers_no_promotion_key():
    """In --read-only `p` is gone: the deployment panel must not offer it (k9s's read-only rule)."""
    from nomadtui.model import Deployment

    d = Deployment.from_api(
        {
            "ID": "d1",
            "JobID": "web",
            "Status": "running",
            "TaskGroups": {
                "web": {"DesiredCanaries": 1, "PlacedCanaries": ["a"], "HealthyAllocs": 1, "DesiredTotal": 3}
            },
        }
    )
    for read_only, hint in ((False, "⚑ ready to promote (p)"), (True, "⚑ ready to promote")):
        console = Console(width=120, color_system=None, file=io.StringIO(), record=True)
        console.print(render.deployment_panel(d, 0.0, read_only=read_only))
        title = console.export_text().splitlines()[0]
        assert title.rstrip().endswith(hint), title
