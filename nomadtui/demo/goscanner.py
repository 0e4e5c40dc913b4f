"""Go encoding/json's scanner as json.Decoder.Decode runs it on a request body: the first JSON
value, read iteratively (depth costs no recursion), and Go's syntax-error texts.

Mirrors Go 1.26 encoding/json scanner.go (the states and their error texts, the 10000-level
depth limit) and stream.go (Decoder.readValue: "EOF" for a blank body, "unexpected EOF" for a
cut one, and whatever follows the first value is never read).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from . import gostrconv

MAX_DEPTH = 10000  # scanner.go maxNestingDepth


def scan(data: bytes) -> Any:
    """The first JSON value in `data`: objects as Object, numbers as Number (Go converts the
    literal per target type), strings decoded as Go unquotes them. Raises ScanError."""
    return _Scanner(data).value()


class Object(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept. (A JSON array is a
    plain list: test with `type(node) is list`.)"""


@dataclass(frozen=True)
class Number:
    text: str  # the literal: Go converts it per target type


class ScanError(Exception):
    """A syntax error: its text is Go's."""


_WS = re.compile(rb"[ \t\n\r]*")
_STRING = re.compile(rb'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"')
_PLAIN = re.compile(rb'[^"\\\x00-\x1f]*')
_DIGITS = re.compile(rb"[0-9]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_OPEN = object()


def _run_end(pattern: re.Pattern[bytes], data: bytes, i: int) -> int:
    """Where the run of `pattern` from i ends: the patterns given (`[...]*`) match even at EOF."""
    m = pattern.match(data, i)
    assert m is not None, "a starred pattern always matches"
    return m.end()


def _quote_char(c: int) -> str:
    """scanner.go quoteChar."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    return "'" + gostrconv.quote(chr(c))[1:-1] + "'"


class _Scanner:
    """Decoder.readValue plus the value it reads: iterative, so depth costs no recursion."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.n = len(data)

    def fail(self, i: int, context: str) -> NoReturn:
        if i >= self.n:
            raise ScanError("unexpected EOF")
        raise ScanError(f"invalid character {_quote_char(self.data[i])} {context}")

    def skip(self, i: int) -> int:
        return _run_end(_WS, self.data, i)

    def value(self) -> Any:
        i = self.skip(0)
        if i == self.n:
            raise ScanError("EOF")
        stack: list[list] = []  # [container, pending object key]
        while True:
            i, value = self.begin(i, stack)
            while value is not _OPEN:  # a value ended: store it, close what it ends
                if not stack:
                    return value  # the Decoder never reads past the first value
                container, key = top = stack[-1]
                i = self.skip(i)
                c = self.data[i] if i < self.n else -1
                if isinstance(container, Object):
                    container.append((key, value))
                    if c == 0x2C:
                        i, value = self.key(self.skip(i + 1), top), _OPEN
                    elif c == 0x7D:
                        i, value = i + 1, stack.pop()[0]
                    else:
                        self.fail(i, "after object key:value pair")
                else:
                    container.append(value)
                    if c == 0x2C:
                        i, value = self.skip(i + 1), _OPEN
                    elif c == 0x5D:
                        i, value = i + 1, stack.pop()[0]
                    else:
                        self.fail(i, "after array element")

    def begin(self, i: int, stack: list[list]) -> tuple[int, Any]:
        """A value starting at i: a scalar, an empty container, or _OPEN for a container
        that awaits its elements."""
        c = self.data[i] if i < self.n else -1
        if c in (0x7B, 0x5B):
            if len(stack) == MAX_DEPTH:
                self.fail(i, "exceeded max depth")
            entry = [Object() if c == 0x7B else [], None]
            stack.append(entry)
            i = self.skip(i + 1)
            close = 0x7D if c == 0x7B else 0x5D
            if i < self.n and self.data[i] == close:
                return i + 1, stack.pop()[0]
            return (self.key(i, entry) if c == 0x7B else i), _OPEN
        if c == 0x22:
            return self.string(i)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return self.number(i)
        for word, literal in ((b"true", True), (b"false", False), (b"null", None)):
            if c == word[0]:
                for k in range(1, len(word)):
                    if i + k >= self.n or self.data[i + k] != word[k]:
                        self.fail(i + k, f"in literal {word.decode()} (expecting '{chr(word[k])}')")
                return i + len(word), literal
        self.fail(i, "looking for beginning of value")

    def key(self, i: int, entry: list) -> int:
        if i >= self.n or self.data[i] != 0x22:
            self.fail(i, "looking for beginning of object key string")
        i, entry[1] = self.string(i)
        i = self.skip(i)
        if i >= self.n or self.data[i] != 0x3A:
            self.fail(i, "after object key")
        return self.skip(i + 1)

    def string(self, i: int) -> tuple[int, str]:
        m = _STRING.match(self.data, i)
        end = m.end() if m else self.string_end(i)
        raw = self.data[i:end]
        if b"\\" not in raw and raw.isascii():
            return end, raw[1:-1].decode()
        # decode.go unquote: invalid UTF-8 and lone surrogates become U+FFFD, one per byte.
        text = json.loads(raw.decode("utf-8", "surrogateescape"))
        return end, _SURROGATE.sub("\ufffd", text)

    def string_end(self, i: int) -> int:
        """Where the string at i ends, byte by byte as the scanner's string states go."""
        data, j = self.data, i + 1
        while True:
            j = _run_end(_PLAIN, data, j)
            if j >= self.n:
                self.fail(j, "")
            if data[j] == 0x22:
                return j + 1
            if data[j] < 0x20:
                self.fail(j, "in string literal")
            j += 1  # a backslash
            if j < self.n and data[j] in b'"\\/bfnrt':
                j += 1
                continue
            if j >= self.n or data[j] != 0x75:
                self.fail(j, "in string escape code")
            for k in range(j + 1, j + 5):
                if k >= self.n or data[k] not in _HEX:
                    self.fail(k, "in \\u hexadecimal character escape")
            j += 5

    def number(self, i: int) -> tuple[int, Number]:
        data, start = self.data, i
        if data[i] == 0x2D:
            i += 1
            if i >= self.n or not 0x30 <= data[i] <= 0x39:
                self.fail(i, "in numeric literal")
        i = i + 1 if data[i] == 0x30 else _run_end(_DIGITS, data, i)
        if i < self.n and data[i] == 0x2E:
            i += 1
            if i >= self.n or not 0x30 <= data[i] <= 0x39:
                self.fail(i, "after decimal point in numeric literal")
            i = _run_end(_DIGITS, data, i)
        if i < self.n and data[i] in b"eE":
            i += 1 + (i + 1 < self.n and data[i + 1] in b"+-")
            if i >= self.n or not 0x30 <= data[i] <= 0x39:
                self.fail(i, "in exponent of numeric literal")
            i = _run_end(_DIGITS, data, i)
        return i, Number(data[start:i].decode())
