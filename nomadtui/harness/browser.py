"""`nomadtui serve` from the outside, for tests and pictures: the server as a child process and
what it printed, a session's terminal output as plain text, and headless Chromium driven with
Selenium (Debian's `chromium` and `chromium-driver`; selenium is in the test extra).

xterm.js draws the terminal on a canvas, so the text a browser shows is read from what its
session sent: the websocket frames in Chrome's performance log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("NOMADTUI_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NOMADTUI_CHROMEDRIVER", "/usr/bin/chromedriver")
# What headless Chromium needs here: no sandbox as root, no GPU, and none of its own traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Escape sequences (CSI, OSC, DCS and the other string controls, two-character ones) and what is
# left of a cursor move: what a terminal does with them is not text.
ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[P^_X][^\x1b]*\x1b\\|[@-Z\\-_])")


def plain(output: bytes | str) -> str:
    """A terminal's output stream as the text in it."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    return ESCAPES.sub("", text)


class Served:
    """`nomadtui serve ARGS` as a child process: its printed lines as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "FABIO_"))}
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nomadtui", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        for stream, into in ((self.process.stdout, self.lines), (self.process.stderr, self.errors)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()
        self.url = self.line("serve ", timeout).split(" ", 1)[1]
        self.base = self.url.split("/?", 1)[0]

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def line(self, prefix: str, timeout: float = 30.0, after: int = 0) -> str:
        """The first printed line (from the `after`th on) that starts with `prefix`, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((x for x in self.lines[after:] if x.startswith(prefix)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._changed.wait(0.2)):
                    raise AssertionError(
                        f"`nomadtui serve` printed no {prefix!r} line: {self.lines}, stderr {self.errors}"
                    )
                self._changed.wait(min(left, 0.5))

    def value(self, name: str) -> str:
        """What a printed `name VALUE` line says (serve, presenter, nomad, fabio)."""
        return self.line(f"{name} ", 5).split(" ", 1)[1]

    def session_pids(self, after: int = 0) -> list[int]:
        """The process ids of the sessions it said it opened (from the `after`th printed line on)."""
        with self._changed:
            lines = self.lines[after:]
        return [int(m.group(1)) for x in lines if (m := re.match(r"session \w+ opened, pid (\d+)", x))]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def alive(pid: int) -> bool:
    """Whether a process (not a zombie) runs with this id."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


# --- Chromium ----------------------------------------------------------------------------------


def chromium_missing() -> str | None:
    """Why a browser test cannot run here; None when it can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} is missing (Debian's {package} package)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'selenium is not installed (pip install ".[test]")'
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A headless Chromium under Selenium, logging what its websockets receive, in a fresh
    profile folder removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nomadtui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Screen:
    """What each tab of a browser received from its terminal session so far, as text, read from
    Chrome's performance log (a read drains the log, so this keeps what was read, per tab)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.received: dict[str, bytearray] = {}

    def text(self, tab: str | None = None) -> str:
        """The text tab `tab` (a window handle; the current one by default) received."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])
            event = message["message"]
            if event.get("method") != "Network.webSocketFrameReceived":
                continue
            frame = event["params"]["response"]
            if frame.get("opcode") == 2:  # binary: the terminal's output
                received = self.received.setdefault(message.get("webview", ""), bytearray())
                received += base64.b64decode(frame["payloadData"])
        return plain(bytes(self.received.get(tab or self.driver.current_window_handle, b"")))

    def until(self, predicate: Callable[[str], bool], tab: str | None = None, timeout: float = 20.0) -> float:
        """Wait until predicate(text) holds for a tab; returns how long it took."""
        started = time.monotonic()
        while not predicate(self.text(tab)):
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"the browser's terminal did not show it in {timeout:g} s:\n{self.text(tab)[-2000:]}"
                )
            time.sleep(0.1)
        return time.monotonic() - started
