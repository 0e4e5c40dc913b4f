"""The TUI in a real pseudo-terminal, against the demo cluster over HTTP.

    python bench/tui.py [--jobs 10000] [--idle-seconds 60]

Prints: start-up to the first jobs on screen; keystroke latency (key sent -> first bytes of the
redraw) with that many jobs; bytes written to the terminal per minute while idle and during a
rolling update; and how long `q` takes to quit, mid long poll.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import os
import select
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import httpx

import nomadtui
from nomadtui.demo.cluster import JOBS_DIR
from nomadtui.demo.server import DemoServer

COLS, ROWS = 120, 40
STARTUPS = 7  # start-up varies by a few hundred milliseconds on a small machine: the median


class Terminal:
    """A child process on a pty; a reader thread records (time, bytes) of everything it writes."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="", TEXTUAL_ANIMATIONS="none")
        env.pop("NOMAD_ADDR", None)
        # As after `pip install .` (which compiles every module): start-up without compiling
        # the sources, whatever this machine's PYTHONDONTWRITEBYTECODE says.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.monotonic(), data))

    def send(self, text: str) -> float:
        sent = time.monotonic()
        os.write(self.master, text.encode())
        return sent

    def output(self) -> bytes:
        with self.lock:
            return b"".join(c for _, c in self.chunks)

    def bytes_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(len(c) for t, c in self.chunks if start <= t < end)

    def first_after(self, moment: float, timeout: float = 5.0) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, _ in self.chunks:
                    if t > moment:
                        return t
            time.sleep(0.001)
        return None

    def wait_for(self, needle: bytes, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = b""
                for t, c in self.chunks:
                    seen += c
                    if needle in seen:
                        return t
            time.sleep(0.01)
        raise TimeoutError(f"{needle!r} never appeared")

    def wait_for_after(self, needle: bytes, after: float, timeout: float = 60.0) -> float:
        """When `needle` first appeared in what was written after the moment `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = b""
                for t, c in self.chunks:
                    if t < after:
                        continue
                    seen += c
                    if needle in seen:
                        return t
            time.sleep(0.01)
        raise TimeoutError(f"{needle!r} never appeared")

    def quiet(self, seconds: float = 1.0, timeout: float = 30.0) -> None:
        """Wait until nothing was written for `seconds`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                last = self.chunks[-1][0] if self.chunks else self.started
            if time.monotonic() - last >= seconds:
                return
            time.sleep(0.05)


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def report_keystrokes(term: Terminal, label: str) -> None:
    latencies = []
    for key in ["j"] * 30 + ["k"] * 30:
        sent = term.send(key)
        answered = term.first_after(sent)
        if answered is not None:
            latencies.append((answered - sent) * 1000)
        time.sleep(0.3)  # slower than the focus delay: every key also loads a job
    print(
        f"{label}: median {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
        f"max {max(latencies):.1f} ms ({len(latencies)} keys)"
    )


def main(jobs: int, idle_seconds: float, rollout_seconds: float) -> None:
    compileall.compile_dir(Path(nomadtui.__file__).parent, quiet=1)  # see Terminal: as installed
    started = time.monotonic()
    server = DemoServer(speed=10, seed=1, extra_jobs=jobs).start()
    if jobs:
        print(f"set-up: the demo cluster with {jobs} extra jobs (--extra-jobs) in {time.monotonic() - started:.1f}s")
    argv = [sys.executable, "-m", "nomadtui", "--addr", server.nomad_url, "--fabio-addr", server.fabio_url]
    argv += ["--jobs-dir", str(JOBS_DIR)]
    startups = []
    for _ in range(STARTUPS):
        term = Terminal(argv)
        startups.append((term.wait_for(b"httpsbackend-sni-1") - term.started) * 1000)
        term.quiet(1.5)  # the whole list has arrived: quitting mid-download leaves the server busy
        term.send("q")
        term.proc.wait(10)
    print(
        f"start-up to first jobs on screen: median {statistics.median(startups):.0f} ms, "
        f"{min(startups):.0f}-{max(startups):.0f} ms over {STARTUPS} starts ({jobs + 1} jobs, {COLS}x{ROWS})"
    )
    term = Terminal(argv)
    term.wait_for(b"mysite-sni-1.com/")
    term.quiet(1.5)

    report_keystrokes(term, f"keystroke (j/k) -> redraw with {jobs + 1} jobs, idle cluster")
    for key, label in (("G", "last row"), ("g", "first row")):
        term.quiet(0.5)
        sent = term.send(key)
        answered = term.first_after(sent)
        print(f"  {label} ({key}): " + (f"{(answered - sent) * 1000:.1f} ms" if answered is not None else "no answer"))
    term.send("g")
    time.sleep(1.0)  # let the first job's watches settle again
    term.quiet(1.0)

    start = time.monotonic()
    time.sleep(idle_seconds)
    idle = term.bytes_between(start, time.monotonic())
    print(f"idle: {idle * 60 / idle_seconds:,.0f} bytes/min written to the terminal over {idle_seconds:g}s")

    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1-rolling-update.nomad").read_text()
    api = httpx.Client(base_url=server.nomad_url)
    job = api.post("/v1/jobs/parse", json={"JobHCL": hcl}).json()
    start = time.monotonic()
    api.post("/v1/jobs", json={"Job": job}).raise_for_status()
    time.sleep(rollout_seconds)
    during = term.bytes_between(start, time.monotonic())
    status = api.get("/v1/job/httpsbackend-sni-1/deployment").json()["Status"]
    print(
        f"rolling update (speed 10, {status} after {rollout_seconds:g}s): "
        f"{during * 60 / rollout_seconds:,.0f} bytes/min"
    )

    # Keys while a rollout moves the jobs and deployments lists every second.
    term.send("g")
    hcl = (JOBS_DIR / "httpsbackend-tcp-sni-1.nomad").read_text()
    job = api.post("/v1/jobs/parse", json={"JobHCL": hcl}).json()
    api.post("/v1/jobs", json={"Job": job}).raise_for_status()
    report_keystrokes(term, f"keystroke (j/k) -> redraw with {jobs + 1} jobs, during a rolling update")

    print(f"resident memory of the TUI: {rss_mb(term.proc.pid):.0f} MB")

    # Quit while every watch is parked in a long poll.
    term.quiet(1.0)
    sent = term.send("q")
    term.proc.wait(10)
    print(f"quit (q) mid long poll: {(time.monotonic() - sent) * 1000:.0f} ms until the process exited")
    server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000, help="extra jobs in the cluster (default 10000)")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--rollout-seconds", type=float, default=15.0)
    args = parser.parse_args()
    main(args.jobs, args.idle_seconds, args.rollout_seconds)
