"""Outside text made inert: what a cluster, Fabio, a probe answer, an error body or a file says
is shown as what it is, never obeyed.

Many people write to a cluster, so a job, group or task name, a meta value or an error body is
hostile input: an escape sequence in it would retitle or recolour the operator's terminal, a
bidi override would reverse what follows it, a newline would break a table row. `inert()` turns
every such character into a visible escape (`\\x1b`, `\\u202e`), the way Go's `%q` prints it.
Markup is the UI's concern: it never parses these strings (see `ui/text.py`).
"""

from __future__ import annotations

import hashlib
import re

# C0 controls, DEL and C1 controls; the bidi embeddings, overrides, isolates and marks; the
# Unicode line and paragraph separators (some terminals break lines at them).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MULTILINE_CONTROL = re.compile(CONTROL.pattern.replace("\x00-\x1f", "\x00-\x08\x0b-\x1f"))
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

# Longest outside string shown in one-line places (notifications, the status line): a
# 10,000-character job name must not cover the screen.
SHORT = 200


def escape_of(char: str) -> str:
    """The visible form of one control character."""
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def cut(text: str, limit: int | None) -> str:
    """`text`, or its first `limit` characters and how many more there were."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def inert(value: object, *, multiline: bool = False, limit: int | None = None) -> str:
    """`value` as text with every control character made visible; with `multiline`, newlines and
    tabs are kept (error bodies, file excerpts); with `limit`, longer text is cut and says so."""
    text = cut(value if isinstance(value, str) else str(value), limit)
    pattern = _MULTILINE_CONTROL if multiline else CONTROL
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda m: escape_of(m.group()), text)


def spans(value: str, *, multiline: bool = False) -> list[tuple[str, bool]]:
    """`value` as (text, is_escape) pieces, for a UI that shows the escapes in their own style."""
    pattern = _MULTILINE_CONTROL if multiline else CONTROL
    out: list[tuple[str, bool]] = []
    start = 0
    for m in pattern.finditer(value):
        if m.start() > start:
            out.append((value[start : m.start()], False))
        out.append((escape_of(m.group()), True))
        start = m.end()
    if start < len(value):
        out.append((value[start:], False))
    return out


# What Markdown reads as formatting, links, tables or HTML inside a line. (`(`, `#`, `+` and `!`
# only mean something beside these or at the start of a line, which a table cell never is.)
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&])")


def markdown(value: object) -> str:
    """Outside text for a Markdown document: inert, on one line, and with every character that
    Markdown would read as formatting, a link or HTML escaped."""
    return _MARKDOWN.sub(r"\\\1", inert(value))


_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def file_name_part(value: str, *, limit: int = 64) -> str:
    """A piece of a file name made from an id: no `/`, no `..`, no control or shell characters,
    no leading dot, bounded length. When the id had to be changed, a short hash of the original
    keeps two ids that clean up alike (`a/b`, `a_b`) from sharing a file."""
    cleaned = _UNSAFE_FILE_CHARS.sub("_", value).strip("._-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:limit] or "unnamed"
    if cleaned != value:
        cleaned += "-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return cleaned
