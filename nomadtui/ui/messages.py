"""Messages between the core and the screens."""

from __future__ import annotations

from textual.message import Message

from ..state import Change


class ClusterChanged(Message):
    """The LiveCluster's state changed; `what` names the view that changed, and `row` the one
    job (namespace, id) whose list row alone moved, when that is all."""

    def __init__(self, what: Change, row: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.what = what
        self.row = row


class ProbeChanged(Message):
    """The traffic probe has a new picture of where requests go."""

    def __init__(self, snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot
