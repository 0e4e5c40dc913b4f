"""The command palette (ctrl+p): jump to a job, or run any action the keys offer (the same
actions: in read-only mode the cluster-changing ones are not offered)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .keys import MAIN_KEYS


class NomadCommands(Provider):
    def _actions(self):
        app = self.app
        main = app.main_screen
        for key in MAIN_KEYS:
            if key.changes_cluster and app.settings.read_only:
                continue
            if key.action in ("focus_next", "focus_previous", "filter"):
                continue
            yield key.description, f"press {key.key_display or key.keys}", partial(main.run_action, key.action)

    def _jobs(self):
        main = self.app.main_screen
        for job in self.app.live.state.jobs:
            yield f"job {job.id}", f"{job.display_type}, {job.display_status}", partial(main.select_job, job.namespace, job.id)

    async def discover(self) -> Hits:
        for title, help_text, run in self._actions():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in [*self._actions(), *self._jobs()]:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)
