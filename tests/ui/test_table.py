"""VirtualTable on its own: keyed rows, a cursor that follows its row, the filter, optional
columns, literal cells, and redraws limited to what changed."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult

from nomadtui.ui.widgets.table import Column, Row, VirtualTable

COLUMNS = (Column("ID"), Column("Count", justify="right"), Column("Note", optional=True))


def rows(*keys: str, note: str = "") -> list[Row]:
    return [Row(key, (key, Text(str(len(key))), note)) for key in keys]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str | None]] = []

    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, empty="No jobs", id="table")

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        if not isinstance(event, VirtualTable.Selected):
            self.events.append(("highlighted", event.key))

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        self.events.append(("selected", event.key))


def lines(table: VirtualTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_keys_move_the_cursor_and_enter_selects():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        app.table.set_rows(rows(*(f"job-{i:02}" for i in range(20))))
        app.table.focus()
        await pilot.press("j", "j")
        assert app.table.cursor_key == "job-02"
        await pilot.press("G")
        assert app.table.cursor_key == "job-19"
        await pilot.pause()
        assert any("job-19" in line for line in lines(app.table))  # scrolled into view
        assert not any("job-00" in line for line in lines(app.table))
        await pilot.press("g", "k")
        assert app.table.cursor_key == "job-00"  # no further than the first row
        await pilot.press("enter")
        await pilot.pause()
        assert ("selected", "job-00") in app.events
        assert ("highlighted", "job-19") in app.events


async def test_the_cursor_stays_on_its_row_when_rows_arrive_above_it():
    app = TableApp()
    async with app.run_test(size=(40, 8)):
        table = app.table
        table.set_rows(rows("b", "c", "d"))
        table.move_to_key("c")
        table.set_rows(rows("a", "b", "c", "d"))
        assert table.cursor_key == "c" and table.cursor == 2
        table.set_rows(rows("a", "b", "d"))  # its row went away: the cursor keeps its place
        assert table.cursor == 2 and table.cursor_key == "d"


async def test_unchanged_data_is_not_redrawn():
    app = TableApp()
    async with app.run_test(size=(40, 8)):
        assert app.table.set_rows(rows("a", "b")) is True
        assert app.table.set_rows(rows("a", "b")) is False


async def test_the_filter_hides_rows_and_says_when_nothing_matches():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.table
        table.set_rows(rows("web", "api", "web-canary"))
        table.filter_text = "WEB"
        await pilot.pause()
        assert [r.key for r in table.rows] == ["web", "web-canary"]
        table.filter_text = "nothing"
        await pilot.pause()
        assert table.rows == [] and table.cursor_key is None
        assert lines(table)[1].strip() == "No match for “nothing”"
        table.filter_text = ""
        await pilot.pause()
        assert len(table.rows) == 3


async def test_an_optional_column_appears_only_when_a_cell_has_text():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        app.table.set_rows(rows("a"))
        await pilot.pause()
        assert "Note" not in lines(app.table)[0]
        app.table.set_rows(rows("a", note="pinned"))
        await pilot.pause()
        assert "Note" in lines(app.table)[0] and "pinned" in lines(app.table)[1]


async def test_cells_are_literal_and_cut_to_their_column():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        hostile = "[bold]x[/bold]\x1b[31m" + "y" * 100
        app.table.set_rows([Row("k", (hostile, Text("1"), ""))])
        await pilot.pause()
        line = lines(app.table)[1]
        assert line.startswith("[bold]x[/bold]") and "\x1b" not in line
        assert len(line) == 40 and "…" in line


async def test_update_row_changes_one_line():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        app.table.set_rows(rows("a", "b"))
        await pilot.pause()
        app.table.update_row(Row("b", ("b", Text("9"), "")))
        await pilot.pause()
        shown = lines(app.table)
        assert shown[2].rstrip().endswith("9") and shown[1].rstrip().endswith("1")


async def test_wide_characters_keep_the_columns_aligned():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        app.table.set_rows([Row("w", ("日本語", Text("1"), "")), Row("a", ("abc", Text("2"), ""))])
        await pilot.pause()
        first, second = (lines(app.table)[i].rstrip() for i in (1, 2))
        assert cell_len(first) == cell_len(second)


async def test_reserved_rows_take_arrivals_without_a_new_height():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.table
        table.styles.height = "auto"
        table.set_rows(rows("a", "b"))
        table.reserve(4)  # two more rows are on their way (a rollout's new allocations)
        await pilot.pause()
        assert table.size.height == 5  # header + 4 rows
        table.set_rows(rows("a", "b", "c", "d"))
        assert table.virtual_size.height == 5  # no new size: the screen is not laid out again
        await pilot.pause()
        assert [line.split()[0] for line in lines(table)[1:]] == ["a", "b", "c", "d"]
        table.reserve(0)
        table.set_rows(rows("a"))
        await pilot.pause()
        assert table.size.height == 2


async def test_a_column_with_a_minimum_width_keeps_it_as_values_change():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = VirtualTable((Column("ID"), Column("Status", min_width=8), Column("Age")), id="other")
        await app.mount(table)
        table.set_rows([Row("a", ("a", "pending", "1s"))])
        await pilot.pause()
        before = table.render_line(1).text.index("1s")
        table.set_rows([Row("a", ("a", "running", "1s"))])
        table.set_rows([Row("a", ("a", "complete", "1s"))])
        await pilot.pause()
        assert table.render_line(1).text.index("1s") == before


async def test_a_sticky_top_keeps_the_newest_row_in_view_and_says_what_is_above():
    app = TableApp()
    async with app.run_test(size=(40, 6)) as pilot:  # the table shows 5 rows
        table = VirtualTable(COLUMNS, sticky_top=True, id="sticky")
        await app.mount(table)
        await pilot.pause()
        keys = [f"alloc-{i:02}" for i in range(3)]
        table.set_rows(rows(*reversed(keys)))
        for i in range(3, 12):  # newer rows arrive at the top, one at a time
            keys.append(f"alloc-{i:02}")
            table.set_rows(rows(*reversed(keys)))
            assert table.cursor_key == keys[-1] and int(table.scroll_y) == 0
        await pilot.pause()
        assert "alloc-11" in lines(table)[1] and "above" not in lines(table)[0]
        # A user who moved down stays on their row; the header counts the rows above the view.
        table.focus()
        await pilot.press("j", "j", "j", "j", "j", "j")
        on = table.cursor_key
        keys.append("alloc-12")
        table.set_rows(rows(*reversed(keys)))
        await pilot.pause()
        assert table.cursor_key == on
        assert f"↑ {int(table.scroll_y)} above" in lines(table)[0] and int(table.scroll_y) > 0
