"""Reading a job file from disk, before anything is sent to Nomad.

A file picked or typed in the run dialog may be anything: a folder, a FIFO, a 2 GB log, a
binary, text in another encoding, a file deleted since the list was made. Each gets a sentence
that names the file and says what is wrong with it; only UTF-8 text within the size limit
goes on to Nomad's parser.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import format_bytes

SUFFIXES = (".nomad", ".hcl", ".nomad.hcl", ".json")
MAX_BYTES = 10 * 2**20  # no job file is this large; a log file picked by mistake may be


class JobFileError(ValueError):
    """A job file that cannot be used; the message is the sentence to show."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class JobFile:
    path: Path
    source: str
    format: str  # "hcl2" or "json"
    job: Mapping[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.job.get("ID") or self.job.get("Name") or "")

    @property
    def namespace(self) -> str | None:
        """The namespace the file names, if any."""
        value = self.job.get("Namespace")
        return value if isinstance(value, str) and value else None

    def target_namespace(self, current: str) -> str:
        """Where the job goes: its own namespace, as `nomad job run` forces it, else the one shown
        (`default` when all are shown: a job cannot be registered into `*`)."""
        return self.namespace or (current if current != "*" else "default")


def read(path: Path, limit: int = MAX_BYTES) -> str:
    """The text of a job file, or a JobFileError saying why it cannot be one."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise JobFileError(_os_sentence(path, e)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise JobFileError(f"{path} is a folder, not a job file.")
        if not stat.S_ISREG(info.st_mode):
            raise JobFileError(f"{path} is not a regular file (a device, pipe or socket): it cannot be a job file.")
        if info.st_size > limit:
            raise JobFileError(
                f"{path.name} is {format_bytes(info.st_size)}, more than the {format_bytes(limit)} a job file may "
                "be: it was not read."
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise JobFileError(_os_sentence(path, e)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise JobFileError(f"{path.name} grew past {format_bytes(limit)} while it was read: it was not used.")
    return decode(path, data)


def decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _position(data, e.start)
        raise JobFileError(
            f"{path.name} is not UTF-8 text: the byte 0x{data[e.start]:02x} at offset {e.start} "
            f"(line {line}, column {column}) is not valid UTF-8. A job file is HCL or JSON text.",
            line=line,
            column=column,
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        offset = len(text[:nul].encode("utf-8"))
        line, column = _position(data, offset)
        raise JobFileError(
            f"{path.name} has a NUL byte at offset {offset} (line {line}, column {column}): it is a "
            "binary file, not a job file.",
            line=line,
            column=column,
        )
    return text.removeprefix("\ufeff")  # a byte-order mark is not part of the job


def json_job(path: Path, source: str) -> Mapping[str, Any]:
    """The job of a JSON job file: `{"Job": {...}}` or the job itself."""
    try:
        data = json.loads(source)
    except json.JSONDecodeError as e:
        raise JobFileError(
            f"{path.name}, line {e.lineno}, column {e.colno}: {e.msg}.", line=e.lineno, column=e.colno
        ) from None
    except RecursionError:
        raise JobFileError(f"{path.name} nests its JSON too deeply to be a job.") from None
    job = data.get("Job", data) if isinstance(data, dict) else None
    if not isinstance(job, dict) or not (job.get("ID") or job.get("Name")):
        raise JobFileError(f"{path.name} is not a Nomad job in JSON (no ID).")
    return job


def is_json(path: Path, source: str) -> bool:
    return path.suffix == ".json" or source.lstrip().startswith("{")


def as_typed(path: Path) -> str:
    """The path as an operator would type it here: relative to the working directory when the
    file is under it (so a command shown on screen is short and can be pasted as it is), else
    absolute."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def listing(folder: Path) -> list[Path]:
    """The job files of a folder, by name; none if it cannot be listed."""
    try:
        return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIXES) and not p.is_dir())
    except OSError:
        return []


def _os_sentence(path: Path, e: OSError) -> str:
    if e.errno == errno.ENOENT:
        return f"{path} does not exist (any more): it was moved or deleted, or the path is mistyped."
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"Cannot read {path}: permission denied."
    if e.errno == errno.EISDIR:
        return f"{path} is a folder, not a job file."
    if e.errno == errno.ENOTDIR:
        return f"{path} is not a path to a file: a part of it is not a folder."
    return f"Cannot read {path}: {e.strerror or e}."


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1
