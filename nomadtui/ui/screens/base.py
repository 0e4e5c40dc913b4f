"""The base of nomadtui's own screens: the app, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.events import Key, Resize
from textual.screen import Screen
from textual.widgets import Footer, Input

from ..keys import Key as KeyDeclaration

if TYPE_CHECKING:
    from ..app import NomadApp


COMPACT_BELOW = 100


class NomadScreen(Screen):
    KEYS: tuple[KeyDeclaration, ...] = ()  # the screen's own keys (its BINDINGS come from them)

    @property
    def nomad(self) -> NomadApp:
        """The app, typed: a screen reads its live cluster, settings, actions and timeline."""
        return cast("NomadApp", self.app)

    def on_resize(self, event: Resize) -> None:
        # A compact footer below 100 columns: at 80, every key shown still fits, `q` and `?` too.
        for footer in self.query(Footer):
            footer.compact = event.size.width < COMPACT_BELOW

    def refuse_read_only(self, event: Key) -> bool:
        """In --read-only the keys that change the cluster are gone; typing one gets a line
        that says so, rather than nothing at all."""
        if not self.nomad.settings.read_only or isinstance(self.focused, Input):
            return False
        keymap = self.nomad.settings.keymap or {}
        for key in self.KEYS:
            if key.changes_cluster and event.key in keymap.get(key.id, key.keys).split(","):
                what = key.long or key.description
                shown = key.key_display or event.key
                self.nomad.notify(f"Read-only: {shown} ({what[0].lower()}{what[1:]}) is switched off.", timeout=3)
                event.stop()
                return True
        return False
