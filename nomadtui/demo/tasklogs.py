"""The tasks' logs: each task's stdout and stderr as a Nomad client keeps them in the allocation
directory (`alloc/logs/<task>.stdout.0`, `.1`, ...), written by logmon's file rotator, and what
the demo's services write there.

A service writes a start-up line naming its version each time its task starts (a restart
appends to the same files, as logmon outlives the task), one access line for every request
Fabio's listener sends it, and a last line on stderr before it crashes. Lines are stamped on the
cluster's clock in Go's `log` format.

Sizes are the demo's own: a file holds at most 256 KiB and a log keeps at most four files, 1 MiB
(Nomad's defaults, from the task's `logs` block, are 10 files of 10 MiB; a job's lower
`max_files` is followed). Offsets stay monotonic as in Nomad: a file's offsets start at 0 and only
grow, the oldest files are deleted, and file numbers keep increasing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..wire import image_tag, parse_rfc3339
from .store import Store
from .structs import lookup_task_group

LOG_DIR = "alloc/logs"  # allocdir.SharedAllocName / allocdir.LogDirName
DEMO_FILE_SIZE = 256 * 1024
DEMO_MAX_FILES = 4
LINE_SCAN_LIMIT = 32 * 1024  # rotator.go lineScanLimit
MAX_LINE = 16 * 1024  # the demo's own: no line it writes is longer (see RotatedLog.write)


class RotatedLog:
    """One task's stdout or stderr: FileRotator (client/logmon/logging/rotator.go) over files in
    memory, `<task>.<type>.<n>`, n from 0."""

    def __init__(self, base: str, max_files: int, file_size: int) -> None:
        self.base = base  # "<task>.stdout"
        self.max_files = max_files
        self.file_size = file_size
        self.files: dict[int, bytearray] = {0: bytearray()}  # index -> content, oldest first
        self.current = 0  # logFileIdx
        self.written = 0  # currentWr

    def name(self, index: int) -> str:
        return f"{self.base}.{index}"

    def entries(self) -> list[tuple[int, int]]:
        """(index, size) of the files there are, as a directory listing shows them."""
        return [(index, len(data)) for index, data in self.files.items()]

    def write(self, p: bytes) -> None:
        """FileRotator.Write: a line goes whole into the current file while it fits, else the next
        file is opened first (nextFile) and the oldest beyond `max_files` are deleted
        (purgeOldFiles, which Nomad runs a moment later in a goroutine). The demo writes whole
        lines no longer than MAX_LINE, well under a file, so rotator.go's loop for a line longer
        than a file never arises."""
        n = 0
        force = False
        while n < len(p):
            if force or self.written >= self.file_size:
                force = False
                self._next_file()
            remaining = self.file_size - self.written
            rest = p[n:]
            wrote = len(rest)
            if remaining - LINE_SCAN_LIMIT < len(rest):
                newline = rest.find(b"\n")
                if newline >= 0 and remaining - newline - 1 >= 0:
                    wrote = newline + 1
                elif newline >= 0:
                    wrote, force = 0, True
                elif len(rest) > self.file_size or self.file_size - LINE_SCAN_LIMIT < 0:
                    wrote = min(remaining, len(rest))
                else:
                    wrote, force = 0, True
            self.files[self.current] += rest[:wrote]
            n += wrote
            self.written += n  # sic: rotator.go adds the running total, not this write's bytes

    def _next_file(self) -> None:
        self.current += 1
        self.files[self.current] = bytearray()
        self.written = 0
        while len(self.files) > self.max_files:
            del self.files[min(self.files)]


@dataclass
class TaskLog:
    """A task's two logs, as logmon creates both when the task first starts."""

    stdout: RotatedLog
    stderr: RotatedLog

    def of(self, log_type: str) -> RotatedLog:
        return self.stdout if log_type == "stdout" else self.stderr


def service_identity(image: str, fallback: str = "") -> tuple[str, str]:
    """What a service calls itself and its version, from its image:
    `bigwhite/httpsbackendservice:v1.0.2` -> (`httpsbackendservice`, `v1.0.2`); no tag: `latest`."""
    tag = image_tag(image)
    if tag == image:
        return image.rpartition("/")[2] or fallback, "latest"
    return image[: -len(tag) - 1].rpartition("/")[2] or fallback, tag


def go_log_time(when: float) -> str:
    """Go's log.LstdFlags prefix, in UTC as in a container: `2026/01/01 00:00:05`."""
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(when))


def _logfmt(value: str) -> str:
    if value and not any(c in value for c in ' "=\\') and value.isprintable():
        return value
    return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'


@dataclass
class TaskLogs:
    """Every task's logs, by (allocation id, task name); created when the task first starts, or
    on first use for tasks started before the demo kept logs (the extra jobs made in bulk)."""

    store: Store
    now: Callable[[], float]
    logs: dict[tuple[str, str], TaskLog] = field(default_factory=dict)
    listeners: list[Callable[[], None]] = field(default_factory=list)  # told of every write

    def _task(self, alloc: dict, task_name: str) -> dict | None:
        group = lookup_task_group(alloc["_job"], alloc["TaskGroup"])
        return next((t for t in group["Tasks"] if t["Name"] == task_name), None)

    def _create(self, alloc: dict, task_name: str) -> TaskLog | None:
        task = self._task(alloc, task_name)
        config = (task or {}).get("LogConfig") or {}
        if task is None or config.get("Disabled"):
            return None  # logmon is not run: no log files at all
        files = min(config.get("MaxFiles") or DEMO_MAX_FILES, DEMO_MAX_FILES)
        size = min((config.get("MaxFileSizeMB") or 10) * 1024 * 1024, DEMO_FILE_SIZE)
        log = TaskLog(RotatedLog(f"{task_name}.stdout", files, size), RotatedLog(f"{task_name}.stderr", files, size))
        self.logs[(alloc["ID"], task_name)] = log
        return log

    def open(self, alloc: dict, task_name: str) -> TaskLog | None:
        """The task's logs; a task that started before the demo kept its logs gets its start-up
        line, stamped when it started."""
        log = self.logs.get((alloc["ID"], task_name))
        if log is not None:
            return log
        state = (alloc.get("TaskStates") or {}).get(task_name) or {}
        started = parse_rfc3339(state.get("StartedAt"))
        if started is None:
            return None
        log = self._create(alloc, task_name)
        if log is not None:
            log.stdout.write(self._startup_line(alloc, task_name, started))
        return log

    def _write(self, log: RotatedLog, line: str) -> None:
        log.write(line.encode()[:MAX_LINE])
        for listener in list(self.listeners):
            listener()

    def _identity(self, alloc: dict, task_name: str) -> tuple[str, str]:
        task = self._task(alloc, task_name) or {}
        return service_identity(str((task.get("Config") or {}).get("image", "")), task_name)

    def _startup_line(self, alloc: dict, task_name: str, when: float) -> bytes:
        name, version = self._identity(alloc, task_name)
        port = _listen_port(alloc, self._task(alloc, task_name) or {})
        what = f"listening on :{port}" if port else "started"
        return f"{go_log_time(when)} {name} {version} {what}\n".encode()

    # --- what the services write ------------------------------------------------------------------

    def started(self, alloc: dict, task_name: str, when: float) -> None:
        """The task started (again): its start-up line on stdout."""
        log = self.logs.get((alloc["ID"], task_name)) or self._create(alloc, task_name)
        if log is not None:
            self._write(log.stdout, self._startup_line(alloc, task_name, when).decode())

    def crashed(self, alloc: dict, task_name: str, when: float, reason: str) -> None:
        """The service's last words on stderr, before it exits with an error."""
        log = self.open(alloc, task_name)
        if log is not None:
            name, version = self._identity(alloc, task_name)
            self._write(log.stderr, f"{go_log_time(when)} {name} {version}: fatal: {reason}\n")

    def access(self, alloc_id: str, task_name: str, request: dict[str, str], status: int, version: str) -> None:
        """One request served: `request` holds its client, method, host and path."""
        alloc = self.store.allocs.get(alloc_id)
        log = self.open(alloc, task_name) if alloc is not None else None
        if log is None:
            return
        fields = " ".join(f"{key}={_logfmt(request.get(key, ''))}" for key in ("client", "method", "host", "path"))
        self._write(
            log.stdout, f"{go_log_time(self.now())} access {fields} status={status} version={_logfmt(version)}\n"
        )


def _listen_port(alloc: dict, task: dict) -> int:
    """The port the service listens on inside its task: its first port's `to`, else the port."""
    ports = alloc["AllocatedResources"]["Shared"].get("Ports") or []
    labels = [str(label) for label in (task.get("Config") or {}).get("ports") or []]
    chosen = next((p for label in labels for p in ports if p["Label"] == label), ports[0] if ports else None)
    if chosen is None:
        return 0
    return int(chosen.get("To") or 0) or int(chosen["Value"])
