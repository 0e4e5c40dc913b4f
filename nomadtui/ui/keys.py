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
    long: str = ""  # what the help says, where the footer's word is too short

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.show,
            priority=self.priority,
            id=self.id,
            key_display=self.key_display,
            tooltip=self.long,
        )


APP_KEYS = (
    Key("quit", "q", "quit", "Quit"),
    Key("help", "question_mark", "help", "Keys", key_display="?"),
    Key("refresh", "ctrl+r", "refresh", "Refresh now", show=False),
    Key("screenshot", "ctrl+s", "save_screenshot", "Save screenshot", show=False),
)

# Footer words are short: at 80 columns every shown key, `q` and `?` included, must fit.
MAIN_KEYS = (
    Key("run", "r", "run_job", "Run", changes_cluster=True, long="Run a job file, with a plan preview first"),
    Key("promote", "p", "promote", "Promote", changes_cluster=True, long="Promote the canaries"),
    Key("revert", "R", "revert", "Revert", changes_cluster=True, long="Revert to an earlier job version"),
    Key("fail", "F", "fail_deployment", "Fail", changes_cluster=True, long="Fail the running deployment"),
    Key("pause", "z", "pause_resume", "Pause", changes_cluster=True, long="Pause or resume the deployment"),
    # priority: handled when it arrives, so the keys typed after it in one burst find the filter
    Key("filter", "slash", "filter", "Filter", key_display="/", priority=True, long="Filter the list in focus"),
    Key("export", "ctrl+e", "export_timeline", "Export timeline", show=False, long="Export the timeline as Markdown"),
    Key(
        "older",
        "left_square_bracket",
        "timeline_older",
        "Older",
        key_display="[",
        show=False,
        long="The timeline of the rollout before",
    ),
    Key(
        "newer",
        "right_square_bracket",
        "timeline_newer",
        "Newer",
        key_display="]",
        show=False,
        long="The timeline of the rollout after",
    ),
    Key("tour_next", "space", "tour_next", "Next", key_display="space", long="The tour's next step"),
    Key("tour_replay", "b", "tour_replay", "Replay", long="Replay the tour's step"),
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

ALLOC_KEYS = (
    Key("logs", "l", "logs", "Logs", long="The task's logs, stdout and stderr, followed"),
    Key("restart_alloc", "r", "restart", "Restart", changes_cluster=True, long="Restart its tasks in place"),
    Key("stop_alloc", "S", "stop", "Stop", changes_cluster=True, long="Stop it: Nomad places a replacement"),
    Key("back", "escape", "back", "Back"),
)

LOG_KEYS = (
    Key("log_stream", "s", "toggle_stream", "stdout/stderr", long="Switch between stdout and stderr"),
    Key("log_follow", "f", "follow", "Follow", long="Follow the log again: scrolling back pauses it"),
    Key("log_search", "slash", "search", "Search", key_display="/"),
    Key("log_next", "n", "next_match", "Next match"),
    Key("back_logs", "escape", "back", "Back"),
)

COMMAND_KEYS = (Key("copy", "c", "copy_command", "Copy command", long="Copy the equivalent command to the clipboard"),)

DIALOG_KEYS = (
    Key("confirm", "y", "confirm", "Yes"),
    Key("cancel", "n,escape", "cancel", "No / back"),
)

CLUSTER_CHANGING_ACTIONS = frozenset(k.action for k in MAIN_KEYS + ALLOC_KEYS if k.changes_cluster)
TOUR_ACTIONS = frozenset({"tour_next", "tour_replay"})


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    return [k.binding() for k in keys]
