"""`nomadtui serve --demo` in a real browser: headless Chromium, driven with Selenium, opens the
printed address, the page starts its session, and the terminal shows the article's job; a second
session, in another tab, shows the same cluster. xterm.js draws on a canvas, so the text on the
screen is read from what the session sent (the websocket frames in Chrome's performance log).

Needs Debian's `chromium` and `chromium-driver` and selenium (the test extra); `.ci/run` installs
them. Without them this test skips and says which is missing."""

from __future__ import annotations

import pytest

from nomadtui.harness.browser import Screen, Served, chromium, chromium_missing
from tests.helpers import http

MISSING = chromium_missing()
pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=f"no browser to drive: {MISSING}"),
    pytest.mark.xdist_group("serve"),
]

JOB = "httpsbackend-sni-1"


def test_two_browser_sessions_see_the_same_demo_cluster(tmp_path):
    with Served("--demo", "--port", "0", env={"XDG_CONFIG_HOME": str(tmp_path)}) as served:
        allocations = http.get(f"{served.value('nomad')}/v1/job/{JOB}/allocations").json()
        shown = [a["ID"][:8] for a in allocations]  # random per cluster: the same ids, the same cluster
        assert len(shown) == 3
        with chromium() as browser:
            screen = Screen(browser)
            browser.get(served.url)
            first = browser.current_window_handle
            browser.switch_to.new_window("tab")  # a second session beside the first, as in a room
            browser.get(served.url)
            for tab in browser.window_handles:
                # the article's job, this cluster's allocations, and the status line's badges
                screen.until(lambda text: all(w in text for w in (JOB, *shown, "DEMO", "READ-ONLY")), tab=tab)
            assert first in browser.window_handles and len(browser.window_handles) == 2
        assert len(served.session_pids()) == 2
