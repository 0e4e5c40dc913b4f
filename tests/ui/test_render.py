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
