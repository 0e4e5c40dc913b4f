"""An Input that keeps the order of keys typed in a burst."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

# Textual runs a focused Input's editing keys (backspace, arrows) as bindings once the key has
# bubbled up to the app, but inserts printable keys at once: in a burst (`BSpace BSpace h t t p`
# from tmux, a fast typist) the letters land before the deletions, which then eat them.
_EDITING = {
    "backspace": "delete_left",
    "delete": "delete_right",
    "left": "cursor_left",
    "right": "cursor_right",
    "home": "home",
    "end": "end",
}


class FilterInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        action = _EDITING.get(event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            await self.run_action(action)
            return
        await super()._on_key(event)
