"""Keys as a person types them: in bursts, in read-only mode, in the help."""

from __future__ import annotations

from textual import events

from nomadtui.harness.drive import driven, screen_text
from nomadtui.ui.screens.main import MainScreen


def burst(app, *keys: tuple[str, str | None]) -> None:
    """Keys arriving in one read from the terminal: queued before any of them is handled."""
    for key, character in keys:
        event = events.Key(key, character)
        event.set_sender(app)
        app._driver.send_message(event)  # as the terminal driver delivers them


async def test_keys_typed_in_a_burst_after_slash_all_reach_the_filter(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        box = app.screen.query_one("#jobs-filter")
        burst(app, ("slash", "/"), *((c, c) for c in "nope"))
        await w.until(lambda: len(box.value) >= 4 or not isinstance(app.screen, MainScreen))
        await pilot.pause()
        assert box.value == "nope"  # not "o", and `p` did not open the promotion dialog
        assert isinstance(app.screen, MainScreen)
        burst(app, *(("backspace", None),) * 4, *((c, c) for c in "http"))
        await w.until(lambda: box.value.endswith("p"))
        await pilot.pause()
        assert box.value == "http"
        text = screen_text(app)
        assert "httpsbackend-sni-1" in text.splitlines()[2]
