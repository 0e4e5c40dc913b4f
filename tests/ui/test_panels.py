"""LivePanel and TailPanel on their own: what they show, and that a change redraws only the
cells that changed, without laying the screen out again."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region

from nomadtui.ui.widgets.panels import LivePanel, TailPanel


class PanelApp(App[None]):
    CSS = "#tail { height: 8; } #live { height: auto; }"

    def compose(self) -> ComposeResult:
        yield LivePanel(id="live")
        yield TailPanel(id="tail", head=2)


def steps(n: int) -> Text:
    return Text("\n".join(["Timeline", "Time  Event"] + [f"step {i}" for i in range(1, n + 1)]))


def shown(panel: LivePanel) -> list[str]:
    return [panel.render_line(y).text.rstrip() for y in range(panel.size.height)]


def record_refreshes(app: App, panel: LivePanel) -> tuple[list[Region], list[bool]]:
    regions: list[Region] = []
    layouts: list[bool] = []
    refresh = panel.refresh

    def spy(*regions_: Region, layout: bool = False, **kwargs):
        regions.extend(regions_)
        layouts.append(layout)
        return refresh(*regions_, layout=layout, **kwargs)

    panel.refresh = spy  # type: ignore[method-assign]
    return regions, layouts


async def test_a_tail_panel_keeps_its_head_and_the_newest_line_in_view():
    app = PanelApp()
    async with app.run_test(size=(40, 12)) as pilot:
        tail = app.query_one("#tail", TailPanel)
        tail.update(steps(3))
        await pilot.pause()
        assert shown(tail)[:5] == ["Timeline", "Time  Event", "step 1", "step 2", "step 3"]
        for n in range(4, 12):
            tail.update(steps(n))
            await pilot.pause()
            lines = shown(tail)
            assert lines[:2] == ["Timeline", "Time  Event"]
            assert f"step {n}" in lines, (n, lines)


async def test_a_step_appended_is_one_line_drawn_and_no_layout():
    app = PanelApp()
    async with app.run_test(size=(40, 12)) as pilot:
        tail = app.query_one("#tail", TailPanel)
        tail.update(steps(2))
        await pilot.pause()
        regions, layouts = record_refreshes(app, tail)
        tail.update(steps(3))
        assert not any(layouts)
        assert [r.y for r in regions] == [4]  # the new step's line, nothing else
        # When the newest would fall off the bottom, the view jumps by half the panel: one
        # redraw of the body, then the next steps are again a line each.
        for n in range(4, 7):
            tail.update(steps(n))
        regions.clear()
        tail.update(steps(7))  # 7 steps in a 6-line body: the jump
        assert len({r.y for r in regions}) > 1
        await pilot.pause()
        assert "step 7" in shown(tail)
        regions.clear()
        tail.update(steps(8))
        assert len(regions) == 1 and not any(layouts)
        await pilot.pause()
        assert "step 8" in shown(tail)


async def test_lines_made_again_at_a_new_width_still_show_the_newest():
    """A narrower pane wraps the steps into more lines at the same height: the view goes to the
    tail, not where it was for the wider lines."""
    app = PanelApp()
    async with app.run_test(size=(60, 12)) as pilot:
        tail = app.query_one("#tail", TailPanel)
        long_steps = Text("\n".join(["Timeline", "Time  Event"] + [f"step {i} " + "x" * 30 for i in range(1, 6)]))
        tail.update(long_steps)
        await pilot.pause()
        assert any(line.startswith("step 5") for line in shown(tail))
        await pilot.resize_terminal(30, 12)  # each step now takes two lines
        await pilot.pause()
        assert any(line.startswith("step 5") for line in shown(tail)), shown(tail)


async def test_a_live_panel_redraws_only_the_cells_that_changed():
    app = PanelApp()
    async with app.run_test(size=(40, 12)) as pilot:
        live = app.query_one("#live", LivePanel)
        live.update(Text("deployment running\nsubmitted 3s ago"))
        await pilot.pause()
        regions, layouts = record_refreshes(app, live)
        live.update(Text("deployment running\nsubmitted 4s ago"))
        assert not any(layouts)
        assert [(r.x, r.y, r.width) for r in regions] == [(10, 1, 1)]
        assert live.show("same", lambda: Text("x")) is True
        assert live.show("same", lambda: Text("y")) is False  # same fingerprint: nothing built


async def test_keep_height_leaves_blank_lines_instead_of_a_layout():
    app = PanelApp()
    async with app.run_test(size=(40, 12)) as pilot:
        live = app.query_one("#live", LivePanel)
        live.update(Text("route\n  a\n  b\n  c"))
        await pilot.pause()
        regions, layouts = record_refreshes(app, live)
        live.update(Text("route\n  a\n  c"), keep_height=True)
        assert not any(layouts)
        await pilot.pause()
        assert shown(live) == ["route", "  a", "  c", ""]
        live.update(Text("route\n  a"))  # without it, the panel fits its content again
        assert any(layouts)
        await pilot.pause()
        assert shown(live) == ["route", "  a"]


def test_the_same_cells_in_other_segments_are_no_change():
    from rich.segment import Segment
    from textual.strip import Strip

    from nomadtui.ui.widgets.panels import changed_span

    before = Strip([Segment("ab"), Segment("  ")], 4)
    after = Strip([Segment("ab  ")], 4)
    assert changed_span(before, after) is None
    assert changed_span(before, Strip([Segment("ax  ")], 4)) == (1, 2)
