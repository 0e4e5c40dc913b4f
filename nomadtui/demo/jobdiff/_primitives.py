"""diff.go's building blocks: equality, Go's orderings, and field, object and set diffs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._shapes import (
    ADDED,
    DELETED,
    EDITED,
    NONE,
    Diff,
    Flat,
    Shape,
    Struct,
    flatmap,
    flatmap_opaque,
    private,
)

# --- equality and ordering --------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value in ("", 0, False) or value == [] or value == {}


def same(a: Any, b: Any) -> bool:
    """reflect.DeepEqual, with missing keys, nulls and zero values all counted as equal."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return all(same(a.get(k), b.get(k)) for k in set(a) | set(b) if not private(k))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    if _empty(a) and _empty(b):
        return True
    return a == b and (type(a) is type(b) or _num(a) and _num(b))


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def hash_key(obj: Any) -> str:
    """Stands in for hashstructure.Hash: equal content, equal key."""
    return json.dumps(_prune(obj), sort_keys=True, default=str)


def _prune(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _prune(v) for k, v in value.items() if not _empty(v) and not private(k)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _type_less(a: str, b: str) -> bool:
    """DiffType.Less: Edited < Added < Deleted < None."""
    if a == b:
        return False
    for kind in (EDITED, ADDED, DELETED):
        if a == kind:
            return True
        if b == kind:
            return False
    return True


def _field_less(a: Diff, b: Diff) -> bool:
    if a == b:
        return False
    if a["Name"] != b["Name"]:
        return a["Name"] < b["Name"]
    if a["Old"] != b["Old"]:
        return a["Old"] < b["Old"]
    return a["New"] < b["New"]


def object_less(a: Diff, b: Diff) -> bool:
    """ObjectDiff.Less, including its habit of sorting both sides' children in place."""
    if a == b:
        return False
    if a["Name"] != b["Name"]:
        return a["Name"] < b["Name"]
    if a["Type"] != b["Type"]:
        return _type_less(a["Type"], b["Type"])
    a_fields, b_fields = a["Fields"] or [], b["Fields"] or []
    a_objects, b_objects = a["Objects"] or [], b["Objects"] or []
    if len(a_fields) != len(b_fields):
        return len(a_fields) < len(b_fields)
    if len(a_objects) != len(b_objects):
        return len(a_objects) < len(b_objects)
    go_sort(a_fields, _field_less)
    go_sort(b_fields, _field_less)
    if any(_field_less(x, y) for x, y in zip(a_fields, b_fields)):
        return True
    go_sort(a_objects, object_less)
    go_sort(b_objects, object_less)
    return any(object_less(x, y) for x, y in zip(a_objects, b_objects))


def go_sort(items: list[Diff], less: Callable[[Diff, Diff], bool]) -> list[Diff]:
    """sort.Sort's insertion sort; ObjectDiff.Less is no strict order, so the algorithm shows."""
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return items


def or_none(items: list[Any]) -> list[Any] | None:
    return items or None


def field_pair(old: Struct, new: Struct, key: str) -> tuple[Any, Any]:
    return old.get(key), new.get(key)


# --- field and object diffs -------------------------------------------------------------


def _field_diff(old: str, new: str, name: str, contextual: bool) -> Diff | None:
    if old == new:
        if not contextual:
            return None
        kind = NONE
    else:
        kind = ADDED if old == "" else DELETED if new == "" else EDITED
    return {
        "Type": kind,
        "Name": name,
        "Old": "" if kind == ADDED else old,
        "New": "" if kind == DELETED else new,
        "Annotations": None,
    }


def field_diffs(old: Flat | None, new: Flat | None, contextual: bool) -> list[Diff]:
    old, new = old or {}, new or {}
    diffs = (_field_diff(old.get(k, ""), new.get(k, ""), k, contextual) for k in old.keys() | new)
    return go_sort([d for d in diffs if d], _field_less)


def _object(kind: str, name: str, fields: list[Diff], objects: Iterable[Diff] = ()) -> Diff:
    return {"Type": kind, "Name": name, "Fields": or_none(fields), "Objects": or_none(list(objects))}


def _kind_of(fields: Iterable[Diff]) -> str | None:
    """How primitiveObjectDiff types an object from its fields; None means "no diff"."""
    kinds = {f["Type"] for f in fields}
    if EDITED in kinds or {ADDED, DELETED} <= kinds:
        return EDITED
    return ADDED if ADDED in kinds else DELETED if DELETED in kinds else None


def primitive_diff(old: Flat | None, new: Flat | None, name: str, contextual: bool) -> Diff | None:
    """primitiveObjectDiff: typed by its fields, dropped when nothing changed."""
    fields = field_diffs(old, new, contextual)
    kind = _kind_of(fields)
    return _object(kind, name, fields) if kind else None


def struct_diff(old: Any, new: Any, shape: Shape, name: str, contextual: bool) -> Diff | None:
    """primitiveObjectDiff of two (possibly nil) struct pointers."""
    old_flat = flatmap(old, shape) if old is not None else None
    new_flat = flatmap(new, shape) if new is not None else None
    return primitive_diff(old_flat, new_flat, name, contextual)


def pointer_diff(
    old: Any, new: Any, name: str, flatten: Callable[[Any], Flat], contextual: bool
) -> tuple[Diff | None, Any, Any]:
    """The common head of diff.go's per-struct functions: nil-equal, added, deleted, edited.

    Returns the object diff with its primitive fields, plus the old and new values with a
    missing side replaced by an empty struct (as Go does before diffing the children).
    """
    if same(old, new):
        return None, old, new
    if old is None:
        kind, fields = ADDED, field_diffs(None, flatten(new), contextual)
    elif new is None:
        kind, fields = DELETED, field_diffs(flatten(old), None, contextual)
    else:
        kind, fields = EDITED, field_diffs(flatten(old), flatten(new), contextual)
    return _object(kind, name, fields), old or {}, new or {}


def set_diff(old: Iterable[str] | None, new: Iterable[str] | None, name: str, contextual: bool) -> Diff | None:
    """stringSetDiff."""
    old_set, new_set = set(old or ()), set(new or ())
    if old_set == new_set and not contextual:
        return None
    candidates = [_field_diff(k, "", name, contextual) for k in old_set - new_set]
    if contextual:
        candidates += [_field_diff(k, k, name, contextual) for k in old_set & new_set]
    candidates += [_field_diff("", k, name, contextual) for k in new_set - old_set]
    fields = go_sort([f for f in candidates if f], _field_less)
    added, removed = bool(new_set - old_set), bool(old_set - new_set)
    kind = EDITED if added and removed else ADDED if added else DELETED if removed else NONE
    if kind == NONE and not fields:
        return None
    return _object(kind, name, fields)


def hashed_set_diff(
    old: list[Any] | None, new: list[Any] | None, shape: Shape, name: str, contextual: bool
) -> list[Diff]:
    """primitiveObjectSetDiff: items keyed by content, so an edit is a delete plus an add."""
    old_set = {hash_key(o): o for o in old or ()}
    new_set = {hash_key(n): n for n in new or ()}
    diffs = [struct_diff(o, new_set.get(k), shape, name, contextual) for k, o in old_set.items()]
    diffs += [struct_diff(None, n, shape, name, contextual) for k, n in new_set.items() if k not in old_set]
    return go_sort([d for d in diffs if d], object_less)


def keyed_diffs(
    old: list[Any] | None,
    new: list[Any] | None,
    key: Callable[[Any], str],
    diff: Callable[[Any, Any], Diff | None],
) -> list[Diff]:
    """The diff.go pattern "match by a key, diff same/deleted, then added, then sort"."""
    old_map = {key(o): o for o in old or ()}
    new_map = {key(n): n for n in new or ()}
    diffs = [diff(o, new_map.get(k)) for k, o in old_map.items()]
    diffs += [diff(None, n) for k, n in new_map.items() if k not in old_map]
    return go_sort([d for d in diffs if d], object_less)


def opaque_diff(old: Any, new: Any, name: str, contextual: bool, *, floats: bool = True) -> Diff | None:
    """configDiff / policyDiff: opaque maps flattened to `key[0][sub]` names."""
    if same(old, new):
        return None
    kind = ADDED if not old else DELETED if not new else EDITED
    old_flat = flatmap_opaque(old or {}, floats=floats)
    new_flat = flatmap_opaque(new or {}, floats=floats)
    fields = field_diffs(old_flat, new_flat, contextual)
    return _object(kind, name, fields)
