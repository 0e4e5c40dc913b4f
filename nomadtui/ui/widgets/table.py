"""A keyed, filterable table that renders only the rows on screen (Textual's Line API).

Textual's DataTable measures every cell of every row when rows are added, which freezes the
UI for seconds at 10,000 jobs; this table costs O(visible rows) per frame and O(rows) only when
its data changes. Rows are keyed (job id, allocation id): the cursor stays on its row when the
data moves underneath, and nothing is redrawn when new data equals the old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import zip_longest

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...safetext import inert
from ..keys import TABLE_KEYS, bindings
from ..text import literal
from .panels import changed_span


@dataclass(frozen=True)
class Column:
    label: str
    width: int | None = None  # None: as wide as the widest cell (up to max_width)
    max_width: int = 40
    min_width: int = 0  # for cells whose width moves with the data (a status, an age): a
    # column that keeps its width keeps the table from being redrawn whole when one cell changes
    justify: str = "left"
    optional: bool = False  # hidden while every cell is empty


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Text | str, ...]  # a str cell is outside text: shown literally (see ui/text.py)
    style: str = ""  # e.g. "dim" for stopped allocations
    search: str = ""  # what the filter matches (defaults to the cells' text)

    @cached_property
    def widths(self) -> tuple[int, ...]:
        """Each cell's width, measured once per row (rows are reused while unchanged)."""
        return tuple(cell_len(_plain(c)) for c in self.cells)


class VirtualTable(ScrollView, can_focus=True, inherit_bindings=False):
    BINDINGS = bindings(TABLE_KEYS)
    COMPONENT_CLASSES = {"table--header", "table--cursor", "table--cursor-blurred"}
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; overflow-x: hidden; }
    VirtualTable > .table--header { text-style: bold; color: $text-muted; }
    VirtualTable > .table--cursor { background: $accent 60%; color: $text; }
    VirtualTable > .table--cursor-blurred { }
    """

    filter_text: reactive[str] = reactive("", init=False)

    class Highlighted(Message):
        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Selected(Highlighted):
        pass

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty: str = "",
        sticky_top: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.empty = empty
        # Newest rows arrive at the top: a cursor on the first row stays on the first row (the
        # newest stays in view); one the user moved stays on its row, and the header says how
        # many rows are above the view.
        self.sticky_top = sticky_top
        self._all: list[Row] = []
        self._rows: list[Row] = []  # after the filter
        self._widths: list[int] = [c.width or cell_len(c.label) for c in self.columns]
        self.cursor = 0
        self._cursor_key: str | None = None
        self._strips: dict[tuple[str, bool, bool, int], Strip] = {}
        self._reserved = 0  # rows the table keeps room for (see reserve)

    # --- data ----------------------------------------------------------------------------------

    @property
    def rows(self) -> list[Row]:
        return self._rows

    @property
    def cursor_key(self) -> str | None:
        return self._cursor_key

    @property
    def cursor_row(self) -> Row | None:
        return self._rows[self.cursor] if 0 <= self.cursor < len(self._rows) else None

    def set_rows(self, rows: Sequence[Row]) -> bool:
        """Replace the data; returns False (and redraws nothing) when it did not change.
        When only cells changed (same rows, same widths), only those lines are redrawn."""
        rows = list(rows)
        if rows == self._all:
            return False
        before = self._rows
        widths = self._column_widths(rows)
        reshaped = widths != self._widths
        self._all, self._widths = rows, widths
        if not reshaped:
            after = self._filtered()
            if [r.key for r in after] == [r.key for r in before]:
                self._rows = after
                for i, (old, new) in enumerate(zip(before, after)):
                    if old != new:
                        self._redraw_changed(i, new.key)
                return True
        self._strips.clear()
        self._apply_filter()
        return True

    @property
    def reserved(self) -> int:
        return self._reserved

    def reserve(self, rows: int) -> None:
        """Keep room for this many rows: rows that arrive into it (an allocation placed during a
        rollout) are a line drawn each, where a taller table would lay out the pane again."""
        if rows != self._reserved:
            self._reserved = rows
            self._resize()

    def _resize(self) -> None:
        # No horizontal scrolling (rows are cut to the width): only the height is virtual, so
        # column widths that change with the data do not lay the screen out again.
        size = Size(0, max(len(self._rows), self._reserved) + 1)
        if size != self.virtual_size:
            self.virtual_size = size  # a new size lays the screen out again

    def update_row(self, row: Row) -> None:
        """Replace the row with this key (if shown) and redraw only its line."""
        for rows in (self._all, self._rows):
            for i, old in enumerate(rows):
                if old.key == row.key:
                    rows[i] = row
                    break
        index = next((i for i, r in enumerate(self._rows) if r.key == row.key), None)
        if index is None:
            self._forget(row.key)
        else:
            self._redraw_changed(index, row.key)

    def _redraw_changed(self, index: int, key: str) -> None:
        """Row `index` (with this key) has new cells: redraw only the cells that differ from what
        is on screen (an age that ticks is a few cells, not a line)."""
        top = int(self.scroll_y)
        y = index - top + 1
        if not top <= index < top + self.size.height:
            self._forget(key)
            return
        cursor = index == self.cursor
        width = self.scrollable_content_region.width
        shown = self._strips.get((key, cursor, cursor and self.has_focus, width))
        self._forget(key)
        if shown is None:
            self.refresh(Region(0, y, self.size.width, 1))
            return
        span = changed_span(shown, self.render_line(y))
        if span is not None:
            self.refresh(Region(span[0], y, span[1] - span[0], 1))

    def _forget(self, key: str) -> None:
        for cached in [k for k in self._strips if k[0] == key]:
            del self._strips[cached]

    def _filtered(self) -> list[Row]:
        needle = self.filter_text.lower()
        if not needle:
            return list(self._all)
        return [r for r in self._all if needle in (r.search or " ".join(_plain(c) for c in r.cells)).lower()]

    def _column_widths(self, rows: list[Row]) -> list[int]:
        widest = [max(cells) for cells in zip_longest(*(r.widths for r in rows), fillvalue=0)]
        widths = []
        for i, column in enumerate(self.columns):
            cells = widest[i] if i < len(widest) else 0
            if column.optional and not cells:
                widths.append(0)
            else:
                natural = max(cell_len(column.label), column.min_width, cells)
                widths.append(column.width or min(column.max_width, natural))
        return widths

    def _apply_filter(self) -> None:
        at_top = self.sticky_top and self.cursor == 0
        self._rows = self._filtered()
        index = 0 if at_top else next((i for i, r in enumerate(self._rows) if r.key == self._cursor_key), None)
        self._move(
            index if index is not None else min(self.cursor, max(0, len(self._rows) - 1)), announce=index is None
        )
        self._resize()
        self.refresh()

    def watch_filter_text(self) -> None:
        self._apply_filter()

    def move_to_key(self, key: str) -> bool:
        index = next((i for i, r in enumerate(self._rows) if r.key == key), None)
        if index is None:
            return False
        self._move(index)
        return True

    # --- cursor --------------------------------------------------------------------------------

    def _move(self, index: int, announce: bool = True) -> None:
        index = max(0, min(index, len(self._rows) - 1)) if self._rows else 0
        old_key, old_index = self._cursor_key, self.cursor
        self.cursor = index
        self._cursor_key = self._rows[index].key if self._rows else None
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False, immediate=True)
        if int(self.scroll_y) == top:
            # Only the two rows whose cursor mark changed are redrawn.
            for row in {old_index, index}:
                self.refresh(Region(0, row - top + 1, self.size.width, 1))
        else:
            self.refresh()
        if announce and self._cursor_key != old_key:
            self.post_message(self.Highlighted(self, self._cursor_key))

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_cursor_top(self) -> None:
        self._move(0)

    def action_cursor_bottom(self) -> None:
        self._move(len(self._rows) - 1)

    def action_page_down(self) -> None:
        self._move(self.cursor + max(1, self.scrollable_content_region.height - 2))

    def action_page_up(self) -> None:
        self._move(self.cursor - max(1, self.scrollable_content_region.height - 2))

    def action_select(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.Selected(self, self._cursor_key))

    def on_click(self, event) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._rows):
            self._move(index)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # --- rendering -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            header = self.get_component_rich_style("table--header")
            labels = self._strip([Text(c.label) for c in self.columns], header, width)
            above = int(self.scroll_y)
            if not above:
                return labels
            mark = f" ↑ {above} above "
            kept = labels.crop(0, max(0, width - len(mark)))
            return Strip([*kept, Segment(mark, header)], kept.cell_length + len(mark))
        index = int(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if index == 0 and self.empty:
                text = f"No match for “{inert(self.filter_text, limit=40)}”" if self.filter_text else self.empty
                return Strip([Segment(text.ljust(width)[:width], self.rich_style + Style(dim=True))])
            return Strip.blank(width, self.rich_style)
        row = self._rows[index]
        cursor = index == self.cursor
        cache_key = (row.key, cursor, cursor and self.has_focus, width)
        strip = self._strips.get(cache_key)
        if strip is None:
            style = self.rich_style + Style.parse(row.style) if row.style else self.rich_style
            if cursor:
                style += self.get_component_rich_style("table--cursor" if self.has_focus else "table--cursor-blurred")
            if len(self._strips) > 4 * self.size.height + 64:
                self._strips.clear()  # scrolling through 10,000 rows must not keep 10,000 strips
            strip = self._strips[cache_key] = self._strip(row.cells, style, width)
        return strip

    def _strip(self, cells: Sequence[Text | str], style: Style, width: int) -> Strip:
        line = Text(no_wrap=True, end="")
        for i, column in enumerate(self.columns):
            if not self._widths[i]:
                continue
            if line:
                line.append("  ")
            line.append_text(_fit(cells[i] if i < len(cells) else "", self._widths[i], column.justify))
        line.truncate(width, overflow="ellipsis", pad=True)
        segments = [
            Segment(seg.text, style + seg.style if seg.style else style) for seg in line.render(self.app.console)
        ]
        return Strip(segments, width).simplify()  # one escape sequence per run of equal style


def _plain(cell: Text | str) -> str:
    return cell.plain if isinstance(cell, Text) else inert(cell)


def _fit(cell: Text | str, width: int, justify: str) -> Text:
    text = cell.copy() if isinstance(cell, Text) else literal(cell)
    text.truncate(width, overflow="ellipsis")
    pad = width - text.cell_len
    if pad > 0:
        text = Text(" " * pad) + text if justify == "right" else text + Text(" " * pad)
    return text
