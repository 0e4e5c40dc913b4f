"""The text `nomad job plan` and `nomad job history -p` print for a job diff (Nomad's JobDiff
wire shape), without colour: used by the plan preview and the version history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .wire import format_duration, go_quote, image_tag

Diff = Mapping[str, Any]
ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

_MARKERS = {ADDED: "+ ", DELETED: "- ", EDITED: "+/- "}


def _marker(kind: str) -> str:
    return _MARKERS.get(kind, "")


def format_diff(diff: Diff, *, verbose: bool = False) -> str:
    """The text `nomad job plan` / `nomad job history -p` print for a JobDiff, uncoloured."""
    fields, objects = diff.get("Fields") or [], diff.get("Objects") or []
    groups = diff.get("TaskGroups") or []
    out = f"{_marker(diff['Type'])}Job: {go_quote(diff.get('ID', ''))}\n"
    longest_field, longest_marker = _longest(fields, objects)
    longest_marker = max([longest_marker, *(len(_marker(g["Type"])) for g in groups)])
    if diff["Type"] == EDITED or verbose:
        block = _aligned(fields, objects, 0, longest_field, longest_marker)
        out += block + ("\n" if block else "")
    for group in groups:
        out += _format_group(group, longest_marker - len(_marker(group["Type"])), verbose) + "\n"
    return out.strip()


def _format_group(group: Diff, prefix: int, verbose: bool) -> str:
    out = f"{_marker(group['Type'])}{' ' * prefix}Task Group: {go_quote(group['Name'])}"
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
    out = f"{' ' * start}{_marker(task['Type'])}{' ' * prefix}Task: {go_quote(task['Name'])}"
    if task.get("Annotations"):
        out += f" ({', '.join(task['Annotations'])})"
    if task["Type"] == NONE or (task["Type"] in (ADDED, DELETED) and not verbose):
        return out
    fields, objects = task.get("Fields") or [], task.get("Objects") or []
    return out + "\n" + _aligned(fields, objects, start + 2, *_longest(fields, objects))


def _format_object(obj: Diff, start: int, prefix: int) -> str:
    marker = _marker(obj["Type"])
    out = f"{' ' * start}{marker}{' ' * prefix}{obj['Name']} {{\n"
    fields, objects = obj.get("Fields") or [], obj.get("Objects") or []
    out += _aligned(fields, objects, start + prefix + 2, *_longest(fields, objects))
    return f"{out}\n{' ' * (start + len(marker) + prefix)}}}"


def _format_field(fd: Diff, start: int, prefix: int, value_prefix: int) -> str:
    out = f"{' ' * start}{_marker(fd['Type'])}{' ' * prefix}{fd['Name']}: {' ' * value_prefix}"
    if fd["Type"] == EDITED:
        out += f"{go_quote(fd['Old'])} => {go_quote(fd['New'])}"
    else:
        out += go_quote(fd["Old"] if fd["Type"] == DELETED else fd["New"])
    if fd.get("Annotations"):
        out += f" ({', '.join(fd['Annotations'])})"
    return out


def _aligned(fields: list[Diff], objects: list[Diff], start: int, longest_field: int, longest_marker: int) -> str:
    """alignedFieldAndObjects: one line per field, then each object block."""
    lines = [
        _format_field(f, start, longest_marker - len(_marker(f["Type"])), longest_field - _width(f["Name"]))
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


def _changes(node: Diff, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Diff]]:
    found = []
    for f in node.get("Fields") or []:
        if f.get("Type") not in (NONE, None):
            found.append((path, f))
    for key in ("Objects", "TaskGroups", "Tasks"):
        for child in node.get(key) or []:
            found += _changes(child, path + (str(child.get("Name", "")),))
    return found


_DURATION_NAMES = ("Time", "Deadline", "Timeout", "Interval", "Delay", "Stagger", "KillTimeout")


def _value(name: str, value: str) -> str:
    """Durations are nanoseconds on the wire; print them as Go does (`30s`)."""
    if value.isdigit() and name.endswith(_DURATION_NAMES):
        return format_duration(int(value))
    return value


def diff_summary(diff: Diff, limit: int = 3) -> str:
    """What a diff changes, in one line: `image v1.0.1 → v1.0.2; Canary 0 → 1`."""
    changes = _changes(diff)
    images = [f for path, f in changes if f.get("Name") == "image" and path[-1:] == ("Config",)]
    others = [(path, f) for path, f in changes if f not in images]
    parts = [f"image {image_tag(f.get('Old', ''))} → {image_tag(f.get('New', ''))}" for f in images]
    for _, f in others:
        name = f.get("Name", "")
        if f["Type"] == ADDED:
            parts.append(f"+{name} {_value(name, f.get('New', ''))}".rstrip())
        elif f["Type"] == DELETED:
            parts.append(f"-{name}")
        else:
            parts.append(f"{name} {_value(name, f.get('Old', ''))} → {_value(name, f.get('New', ''))}")
    if not parts:
        return "no change" if diff.get("Type") in (NONE, None) else f"{diff.get('Type', '').lower()}"
    shown = "; ".join(parts[:limit])
    return shown + (f" (+{len(parts) - limit} more)" if len(parts) > limit else "")
