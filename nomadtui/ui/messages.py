"""Messages between the core and the screens."""

from __future__ import annotations

from textual.message import Message


class ClusterChanged(Message):
    """The LiveCluster's state changed; `what` names the view that changed."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
