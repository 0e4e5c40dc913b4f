"""The command palette (ctrl+p): jump to a job, or run any action the keys offer (the same
actions: in read-only mode the cluster-changing ones are not offered).

Job ids are outside text: the palette's own highlighter and help line read markup, so hits are
given as Rich Text built from `literal()` and help as escaped text.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from ..safetext import inert
from .keys import MAIN_KEYS, TOUR_ACTIONS
from .text import literal

if TYPE_CHECKING:
    from .app import NomadApp


class NomadCommands(Provider):
    @property
    def nomad(self) -> NomadApp:
        return cast("NomadApp", self.app)

    def _actions(self):
        app = self.nomad
        main = app.main_screen
        for key in MAIN_KEYS:
            if key.changes_cluster and app.settings.read_only:
                continue
            if key.action in ("app.focus_next", "app.focus_previous", "filter"):
                continue
            if key.action in TOUR_ACTIONS and main.tour is None:
                continue  # the tour's steps, only in the tour
            yield (
                key.long or key.description,
                f"press {key.key_display or key.keys}",
                partial(main.run_action, key.action),
            )

    def _jobs(self):
        main = self.nomad.main_screen
        for job in self.nomad.live.state.jobs:
            yield (
                f"job {job.id}",
                f"{job.display_type}, {job.display_status}",
                partial(main.select_job, job.namespace, job.id),
            )

    async def discover(self) -> Hits:
        for title, help_text, run in self._actions():
            yield DiscoveryHit(literal(title), run, text=inert(title), help=escape(inert(help_text)))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in [*self._actions(), *self._jobs()]:
            shown = inert(title)
            score = matcher.match(shown)
            if score > 0:
                yield Hit(score, _highlight(matcher, shown), run, text=shown, help=escape(inert(help_text)))


def _highlight(matcher, shown: str) -> Text:
    """`matcher.highlight`, without its markup parsing."""
    text = literal(shown)
    _, offsets = matcher.fuzzy_search.match(matcher.query, shown)
    for offset in offsets:
        if not shown[offset].isspace():
            text.stylize("reverse", offset, offset + 1)
    return text
