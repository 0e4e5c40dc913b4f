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


async def test_a_filter_that_hides_every_job_hides_the_job_on_the_right_too(demo, make_app):
    app = make_app()
    async with driven(app, demo) as (w, pilot):
        await w.until(lambda: "mysite-sni-1.com" in screen_text(app))
        await pilot.press("slash", *"zzz")
        await w.until(lambda: app.live.state.focus is None)
        await pilot.pause()
        text = screen_text(app)
        assert "No match for “zzz”" in text
        assert "httpsbackend" not in text and "mysite-sni-1.com" not in text
        await pilot.press("escape")  # the filter is cleared: the first job is shown again
        await w.until(lambda: "mysite-sni-1.com" in screen_text(app))
