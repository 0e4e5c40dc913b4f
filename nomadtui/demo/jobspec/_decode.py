"""Decoding HCL bodies: templates, var/local references, type conversion and schemas."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from ...wire import parse_duration
from ._errors import Diag, Range
from ._outline import Node

# ---------------------------------------------------------------------------
# Values: templates, variables and type conversion
# ---------------------------------------------------------------------------

_HEREDOC_START = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n")
_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{\s*(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}")
_INTERPOLATION = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_PLAIN_REFERENCE = re.compile(r"\s*(?:var|local)\.[A-Za-z_][A-Za-z0-9_-]*\s*")
# A reference in the source; the lookahead lets "local.var.x" yield both local.var and var.x.
_REFERENCE = re.compile(r"\b(var|local)\.(?=([A-Za-z0-9_-]*))")
_BOUNDARY = re.compile(r"\b")


def _heredoc_text(raw: str) -> str:
    """The value of a heredoc: python-hcl2 gives its source, HCL keeps the final newline."""
    # The body is what lies between the opening line and the blanks before the closing
    # marker. (As one regex, "(.*?)[ \t]*MARKER\Z" took quadratic time on a long run of blanks.)
    match = _HEREDOC_START.match(raw)
    if not match or not raw.endswith(match.group(2), match.end()):
        return raw
    flush, body = match.group(1), raw[match.end() : len(raw) - len(match.group(2))].rstrip(" \t")
    if body and not body.endswith("\n"):
        body += "\n"
    if flush and body:
        lines = body.split("\n")[:-1]
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        body = "".join(line[cut:] + "\n" for line in lines)
    return body


def _cty_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return "string"


def _go_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class ConversionError(Exception):
    pass


def as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _go_number(value)
    if isinstance(value, str):
        return value
    raise ConversionError("string required")


def as_int(value: Any) -> int:
    if isinstance(value, (bool, list, dict)):
        raise ConversionError("number required")
    if isinstance(value, str):
        try:
            value = float(value) if re.search(r"[.eE]", value) else int(value, 10)
        except ValueError:
            raise ConversionError("a number is required") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise ConversionError(
                "value must be a whole number, between -9223372036854775808 and 9223372036854775807 inclusive"
            )
        value = int(value)
    return value


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        raise ConversionError("a bool is required")
    raise ConversionError("bool required")


def _as_string_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ConversionError("list of string required")
    return [as_string(item) for item in value]


def _as_string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConversionError("map of string required")
    return {key: as_string(item) for key, item in value.items()}


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": as_string,
    "number": as_int,
    "bool": as_bool,
    "list": _as_string_list,
    "map": _as_string_map,
    "any": lambda value: value,
}


# ---------------------------------------------------------------------------
# Decoding HCL bodies
# ---------------------------------------------------------------------------


class Decoder:
    """Collects diagnostics while a jobspec is decoded, as jobspec2 does."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.diags: list[Diag] = []
        self.scope: dict[str, dict[str, Any]] = {"var": {}, "local": {}}

    def error(self, summary: str, detail: str, subject: Range | None) -> None:
        self.diags.append(Diag(summary, detail, subject))

    # -- templates ------------------------------------------------------------
    def evaluate(self, value: Any) -> Any:
        """Evaluate every string of a decoded value: heredocs, escapes and var/local references."""
        if isinstance(value, dict):
            return {key: self.evaluate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        if isinstance(value, str):
            return self._template(_heredoc_text(value) if value.startswith("<<") else value)
        return value

    def _template(self, text: str) -> Any:
        whole = _TEMPLATE_TOKEN.fullmatch(text)
        if whole and whole.group(1):
            return self._lookup(whole.group(1), whole.group(2))
        # Up to the last "}" only: past it, each unclosed "${" would be scanned to the end.
        for match in _INTERPOLATION.finditer(text, 0, text.rfind("}") + 1):
            inner = match.group(1)
            if inner and re.search(r"\b(?:var|local)\.", inner) and not _PLAIN_REFERENCE.fullmatch(inner):
                self.error(
                    "Unsupported expression",
                    "The nomadtui demo cluster only evaluates plain var.NAME and local.NAME references, "
                    f'not "{inner.strip()}".',
                    None,
                )
        return _TEMPLATE_TOKEN.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        value = self._lookup(match.group(1), match.group(2))
        try:
            return as_string(value)
        except ConversionError:
            self.error(
                "Invalid template interpolation value",
                "Cannot include the given value in a string template: string required.",
                self._reference_range(match.group(1), match.group(2)),
            )
            return token

    def _lookup(self, root: str, name: str) -> Any:
        values = self.scope[root]
        if name in values:
            return values[name]
        self.error(
            "Unsupported attribute",
            f'This object does not have an attribute named "{name}".',
            self._reference_range(root, name),
        )
        return None

    def _reference_range(self, root: str, name: str) -> Range | None:
        """Where ``.name`` of ``root.name`` first appears (the traversal step HCL blames)."""
        found = self._references.get((root, name))
        if found is None:
            return None
        start = found + len(root)
        line = bisect.bisect_right(self._line_starts, start)
        col = start - self._line_starts[line - 1] + 1
        return Range(line, col, line, col + len(name) + 1)

    @functools.cached_property
    def _references(self) -> dict[tuple[str, str], int]:
        """Where each ``root.name`` first matches ``\\broot\\.name\\b`` in the text.

        One pass for all names: a search of the text for each reference took quadratic time
        on a jobspec with thousands of unknown ones.
        """
        first: dict[tuple[str, str], int] = {}
        for match in _REFERENCE.finditer(self.text):
            root, start, end = match.group(1), match.start(2), match.end(2)
            # A name is a run of name characters followed by a word boundary, which can
            # also fall inside the run ("var.a-b" holds var.a and var.a-b).
            for stop in range(start + 1, end + 1):
                if _BOUNDARY.match(self.text, stop):
                    first.setdefault((root, self.text[start:stop]), match.start())
        return first

    @functools.cached_property
    def _line_starts(self) -> list[int]:
        return [0, *(match.end() for match in re.finditer("\n", self.text))]


class Body:
    """A block body: python-hcl2's dict paired with the outline of the source."""

    def __init__(self, data: dict, node: Node, dec: Decoder) -> None:
        self.dec = dec
        self.node = node
        self.attrs: dict[str, tuple[Any, Node]] = {}
        self.blocks: list[tuple[Node, list[str], dict]] = []
        seen: dict[str, int] = {}
        for child in node.children:
            raw = data.get(child.name)
            if child.kind == "attr":
                self.attrs[child.name] = (raw, child)
                continue
            index = seen.get(child.name, 0)
            seen[child.name] = index + 1
            item = raw[index] if isinstance(raw, list) and index < len(raw) else {}
            labels: list[str] = []
            for _ in child.label_ranges:
                label, item = next(iter(item.items())) if isinstance(item, dict) and item else ("", {})
                labels.append(label)
            self.blocks.append((child, labels, item if isinstance(item, dict) else {}))

    # -- schema -----------------------------------------------------------------
    def check(
        self, attrs: Iterable[str] = (), blocks: dict[str, list[str]] | None = None, unsupported: Iterable[str] = ()
    ) -> bool:
        """Report arguments and blocks the schema does not allow, in HCL's words."""
        attrs, blocks, unsupported = set(attrs), blocks or {}, set(unsupported)
        before = len(self.dec.diags)
        for name, (_, node) in self.attrs.items():
            if name not in attrs:
                self._unexpected_argument(name, node, attrs, blocks, name in unsupported)
        for node, _, _ in self.blocks:
            if node.name not in blocks:
                self._unexpected_block(node, attrs, blocks, node.name in unsupported)
            else:
                self._check_labels(node, blocks[node.name])
        return len(self.dec.diags) == before

    def _unexpected_argument(self, name: str, node: Node, attrs: set[str], blocks: dict, demo: bool) -> None:
        detail = f'An argument named "{name}" is not expected here.'
        if demo:
            detail = f'The argument "{name}" is not supported by the nomadtui demo cluster.'
        elif name in blocks:
            detail += f' Did you mean to define a block of type "{name}"?'
        elif suggestion := _name_suggestion(name, sorted(attrs)):
            detail += f' Did you mean "{suggestion}"?'
        self.dec.error("Unsupported argument", detail, node.name_range)

    def _unexpected_block(self, node: Node, attrs: set[str], blocks: dict, demo: bool) -> None:
        detail = f'Blocks of type "{node.name}" are not expected here.'
        if demo:
            detail = f'Blocks of type "{node.name}" are not supported by the nomadtui demo cluster.'
        elif node.name in attrs:
            detail += (
                f' Did you mean to define argument "{node.name}"? If so, use the equals sign to assign it a value.'
            )
        elif suggestion := _name_suggestion(node.name, sorted(blocks)):
            detail += f' Did you mean "{suggestion}"?'
        self.dec.error("Unsupported block type", detail, node.name_range)

    def _check_labels(self, node: Node, names: list[str]) -> None:
        got = len(node.label_ranges)
        if got > len(names):
            if not names:
                detail = f"No labels are expected for {node.name} blocks."
            else:
                detail = f"Only {len(names)} labels ({', '.join(names)}) are expected for {node.name} blocks."
            self.dec.error(f"Extraneous label for {node.name}", detail, node.label_ranges[len(names)])
        elif got < len(names):
            self.dec.error(
                f"Missing {names[got]} for {node.name}",
                f"All {node.name} blocks must have {len(names)} labels ({', '.join(names)}).",
                node.open_brace,
            )

    # -- values -------------------------------------------------------------
    def value(self, name: str, kind: str) -> Any:
        """The converted value of an argument, or None when it is absent or invalid."""
        if name not in self.attrs:
            return None
        raw, node = self.attrs[name]
        value = self.dec.evaluate(raw)
        if value is None:
            return None
        if kind == "duration":
            return self._duration(value, node)
        try:
            return _CONVERTERS[kind](value)
        except ConversionError as exc:
            self.dec.error("Unsuitable value type", f"Unsuitable value: {exc}", node.value_start)
            return None

    def _duration(self, value: Any, node: Node) -> int | None:
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                self.dec.error("Unsuitable value type", f"Unsuitable duration value: {exc}", node.value_start)
                return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return as_int(value)
            except ConversionError as exc:
                self.dec.error("Unsuitable value type", f"Unsuitable value: {exc}", node.value_start)
                return None
        self.dec.error(
            "Unsuitable value type",
            f"Unsuitable value: expected a string but found {_cty_type_name(value)}",
            node.value_start,
        )
        return None

    def fill(self, out: dict, table: dict[str, tuple[str, str]]) -> dict:
        """Copy the arguments named in ``table`` (hcl name -> (Go field, kind)) into ``out``."""
        for name, (key, kind) in table.items():
            value = self.value(name, kind)
            if value is not None:
                out[key] = value
        return out

    # -- blocks -------------------------------------------------------------
    def block_list(self, name: str) -> list[tuple[list[str], Body]]:
        return [(labels, Body(data, node, self.dec)) for node, labels, data in self.blocks if node.name == name]

    def single(self, name: str) -> Body | None:
        found = [(node, data) for node, _, data in self.blocks if node.name == name]
        if not found:
            return None
        first = found[0][0]
        for node, _ in found[1:]:
            self.dec.error(
                f"Duplicate {name} block",
                f"Only one {name} block is allowed. Another was defined at {first.def_range}.",
                node.def_range,
            )
        return Body(found[0][1], first, self.dec)

    def string_map(self, name: str) -> dict[str, str] | None:
        """``meta``/``env``: a map given either as an attribute or as a block."""
        block = self.single(name)
        if name in self.attrs:
            if block is not None:
                self.dec.error(
                    f"Duplicate {name} block",
                    f"{name} may not be defined more than once. "
                    f"Another definition is defined at {self.attrs[name][1].name_range}.",
                    block.node.def_range,
                )
                return None
            return self.value(name, "map")
        if block is None:
            return None
        return block.just_attributes()

    def just_attributes(self) -> dict[str, str]:
        for node, _, _ in self.blocks:
            self.dec.error(f'Unexpected "{node.name}" block', "Blocks are not allowed here.", node.name_range)
        return {name: value for name in self.attrs if (value := self.value(name, "string")) is not None}

    def raw_map(self) -> dict[str, Any]:
        """A free-form body (task ``config``): nested blocks become lists of objects."""
        out: dict[str, Any] = {name: self.dec.evaluate(raw) for name, (raw, _) in self.attrs.items()}
        for node, labels, data in self.blocks:
            item: Any = Body(data, node, self.dec).raw_map()
            for label in reversed(labels):
                item = {label: item}
            out.setdefault(node.name, []).append(item)
        return out


def _name_suggestion(given: str, options: Iterable[str]) -> str | None:
    """HCL's nameSuggestion: the first option within Levenshtein distance 2."""
    for option in options:
        if _levenshtein(given, option) < 3:
            return option
    return None


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]
