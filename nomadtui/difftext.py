"""The text `nomad job plan` and `nomad job history -p` print for a job diff (Nomad's JobDiff
wire shape), without colour: used by the plan preview and the version history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Diff = Mapping[str, Any]
ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

_MARKERS = {ADDED: "+ ", DELETED: "- ", EDITED: "+/- "}


def _marker(kind: str) -> str:
    return _MARKERS.get(kind, "")


def _go_quote(text: str) -> str:
    """Go's %q (strconv.Quote)."""
    escapes = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r",
               "\t": r"\t", "\v": r"\v", '"': r"\"", "\\": r"\\"}
    out = []
    for ch in text:
        code = ord(ch)
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def format_diff(diff: Diff, *, verbose: bool = False) -> str:
    """The text `nomad job plan` / `nomad job history -p` print for a JobDiff, uncoloured."""
    fields, objects = diff.get("Fields") or [], diff.get("Objects") or []
    groups = diff.get("TaskGroups") or []
    out = f'{_marker(diff["Type"])}Job: {_go_quote(diff.get("ID", ""))}\n'
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(g["Type"])) for g in groups)])
    if diff["Type"] == EDITED or verbose:
        block = _aligned(fields, objects, 0, longest_field, longest_marker)
        out += block + ("\n" if block else "")
    for group in groups:
        out += _format_group(group, longest_marker - len(_marker(group["Type"])), verbose) + "\n"
    return out.strip()


def _format_group(group: Diff, prefix: int, verbose: bool) -> str:
    out = f'{_marker(group["Type"])}{" " * prefix}Task Group: {_go_quote(group["Name"])}'
    updates = group.get("Updates") or {}
    if updates:
        out += " (" + ", ".join(f"{updates[k]} {k}" for k in sorted(updates)) + ")"
    out += "\n"
    fields, objects = group.get("Fields") or [], group.get("Objects") or []
    tasks = group.get("Tasks") or []
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(t["Type"])) for t in tasks)])
    if group["Type"] == EDITED or verbose:
        block = _aligned(fields, objects, prefix + 2, longest_field, longest_marker)
        out += block + ("\n" if block else "")
    for task in tasks:
        task_prefix = longest_marker - len(_marker(task["Type"]))
        out += _format_task(task, prefix + 2, task_prefix, verbose) + "\n"
    return out


def _format_task(task: Diff, start: int, prefix: int, verbose: bool) -> str:
    out = f'{" " * start}{_marker(task["Type"])}{" " * prefix}Task: {_go_quote(task["Name"])}'
    if task.get("Annotations"):
        out += f' ({", ".join(task["Annotations"])})'
    if task["Type"] == NONE or (task["Type"] in (ADDED, DELETED) and not verbose):
        return out
    fields, objects = task.get("Fields") or [], task.get("Objects") or []
    return out + "\n" + _aligned(fields, objects, start + 2, *_longest(fields, objects))


def _format_object(obj: Diff, start: int, prefix: int) -> str:
    marker = _marker(obj["Type"])
    out = f'{" " * start}{marker}{" " * prefix}{obj["Name"]} {{\n'
    fields, objects = obj.get("Fields") or [], obj.get("Objects") or []
    out += _aligned(fields, objects, start + prefix + 2, *_longest(fields, objects))
    return f'{out}\n{" " * (start + len(marker) + prefix)}}}'


def _format_field(fd: Diff, start: int, prefix: int, value_prefix: int) -> str:
    out = f'{" " * start}{_marker(fd["Type"])}{" " * prefix}{fd["Name"]}: {" " * value_prefix}'
    if fd["Type"] == EDITED:
        out += f'{_go_quote(fd["Old"])} => {_go_quote(fd["New"])}'
    else:
        out += _go_quote(fd["Old"] if fd["Type"] == DELETED else fd["New"])
    if fd.get("Annotations"):
        out += f' ({", ".join(fd["Annotations"])})'
    return out


def _aligned(
    fields: list[Diff], objects: list[Diff], start: int, longest_field: int, longest_marker: int
) -> str:
    """alignedFieldAndObjects: one line per field, then each object block."""
    lines = [
        _format_field(
            f, start, longest_marker - len(_marker(f["Type"])), longest_field - _width(f["Name"])
        )
        for f in fields
    ]
    lines += [_format_object(o, start, longest_marker - len(_marker(o["Type"]))) for o in objects]
    return "\n".join(lines)


def _width(name: str) -> int:
    """Go pads with len(string), which counts UTF-8 bytes."""
    return len(name.encode())


def _longest(fields: list[Diff], objects: list[Diff]) -> tuple[int, int]:
    longest_field = max((_width(f["Name"]) for f in fields), default=0)
    longest_marker = max((len(_marker(d["Type"])) for d in (*fields, *objects)), default=0)
    return longest_field, longest_marker
