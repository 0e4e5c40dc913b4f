"""Every key of the app, declared as data.

Bindings, the footer, the help screen and the command palette are all generated from these
tables. Keys that change the cluster are marked; in read-only mode they disappear everywhere
(`check_action` says no, so they are neither shown, offered nor run). Ids let users remap
keys in the config file (`[keys]` table: `promote = "P"`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    id: str
    keys: str
    action: str
    description: str
    changes_cluster: bool = False
    show: bool = True
    priority: bool = False
    key_display: str | None = None

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.show,
            priority=self.priority,
            id=self.id,
            key_display=self.key_display,
        )


APP_KEYS = (
    Key("quit", "q", "quit", "Quit"),
    Key("help", "question_mark", "help", "Keys", key_display="?"),
    Key("refresh", "ctrl+r", "refresh", "Refresh now", show=False),
    Key("screenshot", "ctrl+s", "save_screenshot", "Save screenshot", show=False),
)

MAIN_KEYS = (
    Key("run", "r", "run_job", "Run job file", changes_cluster=True),
    Key("promote", "p", "promote", "Promote", changes_cluster=True),
    Key("revert", "R", "revert", "Revert", changes_cluster=True),
    Key("fail", "F", "fail_deployment", "Fail deploy", changes_cluster=True),
    Key("pause", "z", "pause_resume", "Pause/resume", changes_cluster=True),
    Key("filter", "slash", "filter", "Filter", key_display="/"),
    Key("export", "ctrl+e", "export_timeline", "Export timeline", show=False),
    Key("tour_next", "space", "tour_next", "Next step", key_display="space"),
    Key("tour_replay", "b", "tour_replay", "Replay step"),
    Key("next_pane", "tab", "app.focus_next", "Next pane", show=False),
    Key("previous_pane", "shift+tab", "app.focus_previous", "Previous pane", show=False),
)

TABLE_KEYS = (
    Key("down", "j,down", "cursor_down", "Down", show=False),
    Key("up", "k,up", "cursor_up", "Up", show=False),
    Key("top", "g,home", "cursor_top", "First row", show=False),
    Key("bottom", "G,end", "cursor_bottom", "Last row", show=False),
    Key("page_down", "pagedown", "page_down", "Page down", show=False),
    Key("page_up", "pageup", "page_up", "Page up", show=False),
    Key("select", "enter", "select", "Open", show=False),
)

DIALOG_KEYS = (
    Key("confirm", "y", "confirm", "Yes"),
    Key("cancel", "n,escape", "cancel", "No / back"),
)

CLUSTER_CHANGING_ACTIONS = frozenset(k.action for k in MAIN_KEYS if k.changes_cluster)
TOUR_ACTIONS = frozenset({"tour_next", "tour_replay"})


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    return [k.binding() for k in keys]
