"""Nomad HCL2 job specifications for the demo cluster.

The demo cluster imitates Nomad's HTTP API, so this module reproduces what a real
Nomad agent does with a jobspec, field for field:

* ``parse_hcl``: ``POST /v1/jobs/parse`` (jobspec2 decoding, then api ``Canonicalize``).
* ``to_struct``: register (``ApiJobToStructJob``, struct ``Canonicalize`` and the
  admission mutators), giving the shape ``GET /v1/job/:id`` returns.
* ``validate``: the admission validator (``Job.Validate`` and friends).

Keys are Go field names, durations are integer nanoseconds and nil is ``None``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from typing import Any

import hcl2
from hcl2.parser import parser as _hcl_parser
from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

__all__ = [
    "JobspecError",
    "canonicalize_api",
    "format_duration",
    "job_meta_merged",
    "parse_duration",
    "parse_hcl",
    "to_struct",
    "validate",
]

FILENAME = "input.hcl"
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
MAX_INT64 = 2**63 - 1
VARIABLES_DOCS = "https://developer.hashicorp.com/nomad/docs/job-specification/hcl2/variables"


class JobspecError(Exception):
    """A jobspec failed to parse or validate; ``message`` is the HTTP error body."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


# ---------------------------------------------------------------------------
# Go time.Duration
# ---------------------------------------------------------------------------

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}


def _go_quote(text: str) -> str:
    """Quote like Go's time package does in its error messages."""
    out = ['"']
    for char in text:
        if char < " " or ord(char) >= 0x80:
            out.extend(f"\\x{byte:02x}" for byte in char.encode())
        elif char in '"\\':
            out.append("\\" + char)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _leading_int(text: str) -> tuple[int, str, bool]:
    digits = re.match(r"\d*", text).group(0)  # type: ignore[union-attr]
    value = int(digits) if digits else 0
    return value, text[len(digits):], value > 2**63


def _leading_fraction(text: str) -> tuple[int, float, str]:
    digits = re.match(r"\d*", text).group(0)  # type: ignore[union-attr]
    value, scale = 0, 1.0
    for digit in digits:
        # Go stops accumulating precision once the value would overflow.
        if value > MAX_INT64 // 10:
            continue
        value = value * 10 + int(digit)
        scale *= 10
    return value, scale, text[len(digits):]


def parse_duration(text: str) -> int:
    """Parse a Go duration string ("1h30m", "500ms", "1.5s") into nanoseconds.

    Raises ``ValueError`` with Go's ``time.ParseDuration`` error text.
    """
    invalid = ValueError(f"time: invalid duration {_go_quote(text)}")
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or rest[0].isdigit()):
            raise invalid
        whole, after, overflow = _leading_int(rest)
        if overflow:
            raise invalid
        had_whole, rest = after != rest, after
        fraction, scale, had_fraction = 0, 1.0, False
        if rest.startswith("."):
            fraction, scale, after = _leading_fraction(rest[1:])
            had_fraction, rest = after != rest[1:], after
        if not had_whole and not had_fraction:
            raise invalid
        unit = re.match(r"[^.\d]*", rest).group(0)  # type: ignore[union-attr]
        if not unit:
            raise ValueError(f"time: missing unit in duration {_go_quote(text)}")
        rest = rest[len(unit):]
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        unit_ns = _UNITS[unit]
        if whole > 2**63 // unit_ns:
            raise invalid
        value = whole * unit_ns
        if fraction > 0:
            value += int(float(fraction) * (float(unit_ns) / scale))
        total += value
        if value > 2**63 or total > 2**63:
            raise invalid
    if negative:
        return -total
    if total > MAX_INT64:
        raise invalid
    return total


def _fmt_frac(value: int, precision: int) -> tuple[str, int]:
    """Go's fmtFrac: the fractional digits of value/10**precision, trailing zeros dropped."""
    digits = f"{value % 10**precision:0{precision}d}".rstrip("0")
    return ("." + digits if digits else ""), value // 10**precision


def format_duration(ns: int) -> str:
    """Format nanoseconds like Go's ``time.Duration.String()`` ("5m0s", "1.5s")."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    value = abs(ns)
    if value < SECOND:
        if value < 1_000:
            return f"{sign}{value}ns"
        unit, precision = ("µs", 3) if value < 1_000_000 else ("ms", 6)
        frac, whole = _fmt_frac(value, precision)
        return f"{sign}{whole}{frac}{unit}"
    frac, seconds = _fmt_frac(value, 9)
    text = f"{seconds % 60}{frac}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


# ---------------------------------------------------------------------------
# hashicorp/go-multierror formatting
# ---------------------------------------------------------------------------


class _MultiError:
    """An error list printed exactly like go-multierror's default format."""

    def __init__(self) -> None:
        self.errors: list[Any] = []

    def add(self, err: Any) -> None:
        """``mErr.Errors = append(mErr.Errors, err)``: nested lists stay nested."""
        if err is not None:
            self.errors.append(err)

    def merge(self, err: Any) -> None:
        """``multierror.Append(&mErr, err)``: nested lists are flattened."""
        if isinstance(err, _MultiError):
            self.errors.extend(err.errors)
        else:
            self.add(err)

    def or_none(self) -> _MultiError | None:
        return self if self.errors else None

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return f"1 error occurred:\n\t* {self.errors[0]}\n\n"
        points = "\n\t".join(f"* {err}" for err in self.errors)
        return f"{len(self.errors)} errors occurred:\n\t{points}\n\n"


# ---------------------------------------------------------------------------
# HCL diagnostics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Range:
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        if self.line == self.end_line:
            return f"{FILENAME}:{self.line},{self.col}-{self.end_col}"
        return f"{FILENAME}:{self.line},{self.col}-{self.end_line},{self.end_col}"


@dataclass
class _Diag:
    summary: str
    detail: str
    subject: _Range | None = None

    def __str__(self) -> str:
        # Go prints a nil *hcl.Range as "<nil>".
        where = str(self.subject) if self.subject else "<nil>"
        return f"{where}: {self.summary}; {self.detail}"


class _DiagError(Exception):
    """Diagnostics that end parsing; ``syntax`` selects HCL's Diagnostics.Error format."""

    def __init__(self, diags: list[_Diag], syntax: bool = False, prefix: str = "") -> None:
        super().__init__(diags)
        self.diags = diags
        self.syntax = syntax
        self.prefix = prefix

    def to_jobspec_error(self) -> JobspecError:
        first = self.diags[0]
        if self.syntax:
            text = str(first)
            if len(self.diags) > 1:
                text += f", and {len(self.diags) - 1} other diagnostic(s)"
        else:
            text = "\n".join(str(diag) for diag in self.diags)
        line = first.subject.line if first.subject else None
        column = first.subject.col if first.subject else None
        return JobspecError(f"Failed to parse job: {self.prefix}{text}", line, column)


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


# ---------------------------------------------------------------------------
# Source outline: positions for diagnostics and HCL-style syntax errors
# ---------------------------------------------------------------------------

_NAME_TOKENS = {"NAME", "IN", "FOR", "IF", "FOR_EACH", "ELSE", "ENDIF", "ENDFOR", "NULL", "TRUE", "FALSE"}
_OPENERS = {
    "LBRACE": "brace", "LSQB": "bracket", "LPAR": "paren", "INTERP_START": "interp", "DIRECTIVE_START": "interp",
}
_CLOSERS = {"RBRACE", "RSQB", "RPAR"}
_OPERATORS = {
    "DOUBLE_EQ", "NEQ", "LT", "GT", "LEQ", "GEQ", "MINUS", "ASTERISK", "SLASH", "PERCENT",
    "DOUBLE_AMP", "DOUBLE_PIPE", "PLUS", "NOT", "QMARK", "EQ", "COLON",
}
# After these tokens an expression still needs an operand.
_EXPECT_OPERAND = _OPERATORS | {
    "COMMA", "LSQB", "LPAR", "LBRACE", "INTERP_START", "DIRECTIVE_START", "FOR_OBJECT_ARROW", "DOT",
}


def _token_range(tok: Token) -> _Range:
    value = str(tok.value)
    if tok.type == "NL_OR_COMMENT":
        # An HCL newline (or line comment) token ends at column 1 of the next line.
        return _Range(tok.line, tok.column, tok.line + 1, 1)
    line, col = tok.line, tok.column
    if tok.type in _OPERATORS:
        # python-hcl2 folds leading blanks and continuation newlines into operators.
        newline = value.rfind("\n")
        if newline >= 0:
            line, col, value = line + value[: newline + 1].count("\n"), 1, value[newline + 1:]
        col += len(value) - len(value.lstrip(" \t"))
    return _Range(line, col, tok.end_line or line, tok.end_column or col + 1)


@dataclass
class _Node:
    """One argument or block of the source, or a body (the file or a block's content)."""

    kind: str
    name: str = ""
    name_range: _Range | None = None
    def_range: _Range | None = None
    label_ranges: list[_Range] = field(default_factory=list)
    open_brace: _Range | None = None
    value_start: _Range | None = None
    children: list[_Node] = field(default_factory=list)


@dataclass
class _Frame:
    body: _Node
    phase: str = "start"
    head: _Node | None = None
    label_start: _Range | None = None
    in_label: bool = False
    nesting: list[tuple[str, _Range]] = field(default_factory=list)
    last: Token | None = None


class _Outliner:
    """Follows the token stream to build an outline and explain syntax errors like HCL."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = _Node("body")
        self.frames = [_Frame(self.root)]

    # -- token handling ---------------------------------------------------
    def feed(self, tok: Token) -> None:
        """Advance on a token the parser accepted; phases: start, header, value, block."""
        frame = self.frames[-1]
        handlers = {"start": self._on_start, "header": self._on_header, "value": self._on_value,
                    "block": self._on_block}
        handlers[frame.phase](frame, tok)

    def _on_start(self, frame: _Frame, tok: Token) -> None:
        if tok.type == "RBRACE":
            self._close_body()
        elif tok.type in _NAME_TOKENS:
            rng = _token_range(tok)
            frame.head = _Node("block", str(tok.value), rng, rng)
            frame.phase = "header"

    def _on_header(self, frame: _Frame, tok: Token) -> None:
        head = frame.head
        assert head is not None
        if frame.in_label:
            if tok.type == "DBLQUOTE":
                assert frame.label_start is not None
                end = _token_range(tok)
                start = frame.label_start
                head.label_ranges.append(_Range(start.line, start.col, end.end_line, end.end_col))
                frame.in_label = False
            elif tok.type == "STRING_CHARS":
                self._check_multiline(tok)
        elif tok.type == "DBLQUOTE":
            frame.in_label, frame.label_start = True, _token_range(tok)
        elif tok.type in _NAME_TOKENS:
            head.label_ranges.append(_token_range(tok))
        elif tok.type == "EQ":
            self._start_attribute(frame, head)
        elif tok.type == "LBRACE":
            self._open_block(frame, head, tok)
        elif tok.type == "NL_OR_COMMENT":
            raise _DiagError([self._header_diag(frame, tok)], syntax=True)

    def _start_attribute(self, frame: _Frame, head: _Node) -> None:
        head.kind = "attr"
        for sibling in frame.body.children:
            if sibling.kind == "attr" and sibling.name == head.name:
                raise _DiagError([_Diag(
                    "Attribute redefined",
                    f'The argument "{head.name}" was already set at {sibling.name_range}. '
                    "Each argument may be set only once.",
                    head.name_range,
                )], syntax=True)
        frame.body.children.append(head)
        frame.phase, frame.nesting, frame.last = "value", [], None

    def _open_block(self, frame: _Frame, head: _Node, tok: Token) -> None:
        end = head.label_ranges[-1] if head.label_ranges else head.name_range
        assert head.name_range is not None and end is not None
        head.def_range = _Range(head.name_range.line, head.name_range.col, end.end_line, end.end_col)
        head.open_brace = _token_range(tok)
        frame.body.children.append(head)
        frame.phase = "block"
        self.frames.append(_Frame(head))

    def _on_value(self, frame: _Frame, tok: Token) -> None:
        nesting = frame.nesting
        if nesting and nesting[-1][0] == "string":
            self._on_string(frame, tok)
            return
        if not nesting and frame.last is not None and tok.type == "NL_OR_COMMENT":
            frame.phase = "start"
            return
        if not nesting and tok.type == "RBRACE":
            frame.phase = "start"
            self._close_body()
            return
        if tok.type == "DBLQUOTE":
            nesting.append(("string", _token_range(tok)))
        elif tok.type in _OPENERS:
            nesting.append((_OPENERS[tok.type], _token_range(tok)))
        elif tok.type in _CLOSERS and nesting:
            nesting.pop()
        self._extend(frame, tok)
        if tok.type.startswith("HEREDOC") and not nesting:
            frame.phase = "start"  # the heredoc token swallows the closing newline

    def _on_string(self, frame: _Frame, tok: Token) -> None:
        if tok.type == "DBLQUOTE":
            frame.nesting.pop()
        elif tok.type == "STRING_CHARS":
            self._check_multiline(tok)
        elif tok.type in ("INTERP_START", "DIRECTIVE_START"):
            frame.nesting.append(("interp", _token_range(tok)))
        self._extend(frame, tok)

    def _on_block(self, frame: _Frame, tok: Token) -> None:
        # The phase of a body after one of its blocks was closed.
        if tok.type == "NL_OR_COMMENT":
            frame.phase = "start"
        elif tok.type == "RBRACE":
            self._close_body()
        else:
            raise _DiagError([_Diag(
                "Missing newline after block definition",
                "A block definition must end with a newline.",
                _token_range(tok),
            )], syntax=True)

    def _extend(self, frame: _Frame, tok: Token) -> None:
        if tok.type == "NL_OR_COMMENT":
            return  # newlines inside brackets neither start nor continue an operand
        head = frame.head
        if head is not None and (head.value_start is None or (
                frame.last is not None and frame.last.type == "DBLQUOTE" and tok.type == "STRING_CHARS"
                and head.value_start == _token_range(frame.last))):
            # For a quoted string HCL reports the literal inside the quotes.
            head.value_start = _token_range(tok)
        frame.last = tok

    def _close_body(self) -> None:
        self.frames.pop()
        if self.frames:
            self.frames[-1].phase = "block"

    def _check_multiline(self, tok: Token) -> None:
        value = str(tok.value)
        newline = value.find("\n")
        if newline < 0:
            return
        col = tok.column + newline
        raise _DiagError([_Diag(
            "Invalid multi-line string",
            "Quoted strings may not be split over multiple lines. To produce a multi-line string, "
            'either use the \\n escape to represent a newline character or use the "heredoc" '
            "multi-line template syntax.",
            _Range(tok.line, col, tok.line + 1, 1),
        )], syntax=True)

    # -- syntax errors ------------------------------------------------------
    def char_error(self, exc: UnexpectedCharacters) -> _Diag:
        return self.char_error_at(exc.line, exc.column, exc.char)

    @staticmethod
    def char_error_at(line: int, column: int, char: str) -> _Diag:
        rng = _Range(line, column, line, column + 1)
        if char == "'":
            detail = 'Single quotes are not valid. Use double quotes (") to enclose strings.'
            return _Diag("Invalid character", detail, rng)
        return _Diag("Invalid character", "This character is not used within the language.", rng)

    @staticmethod
    def _in_string(frame: _Frame) -> bool:
        return frame.in_label or bool(frame.nesting and frame.nesting[-1][0] == "string")

    def token_error(self, tok: Token) -> _Diag:
        frame = self.frames[-1]
        if tok.type == "$END":
            return self._eof_error(frame)
        if tok.type == "STRING_CHARS" and not self._in_string(frame):
            # Lark's fallback lexer swallows the rest of the line as string characters;
            # look at the first character to see what HCL would have found there.
            replacement = _fallback_token(tok)
            if replacement is None:
                char = str(tok.value)[0]
                return self.char_error_at(tok.line, tok.column, char)
            tok = replacement
        rng = _token_range(tok)
        if frame.phase == "header":
            return self._header_diag(frame, tok)
        if frame.phase == "value":
            return self._value_error(frame, rng)
        if frame.phase == "block":
            return _Diag("Missing newline after block definition", "A block definition must end with a newline.", rng)
        return _Diag("Argument or block definition required", "An argument or block definition is required here.", rng)

    def _header_diag(self, frame: _Frame, tok: Token) -> _Diag:
        rng = _token_range(tok)
        if frame.head is not None and frame.head.label_ranges:
            if tok.type == "NL_OR_COMMENT":
                detail = ('A block definition must have block content delimited by "{" and "}", '
                          "starting on the same line as the block header.")
            elif tok.type == "EQ":
                detail = ('The equals sign "=" indicates an argument definition, '
                          "and must not be used when defining a block.")
            else:
                detail = 'Either a quoted string block label or an opening brace ("{") is expected here.'
            return _Diag("Invalid block definition", detail, rng)
        return _Diag(
            "Argument or block definition required",
            "An argument or block definition is required here. "
            'To set an argument, use the equals sign "=" to introduce the argument value.',
            rng,
        )

    def _value_error(self, frame: _Frame, rng: _Range) -> _Diag:
        if frame.last is None or frame.last.type in _EXPECT_OPERAND:
            detail = "Expected the start of an expression, but found an invalid expression token."
            return _Diag("Invalid expression", detail, rng)
        if not frame.nesting:
            return _Diag("Missing newline after argument", "An argument definition must end with a newline.", rng)
        summary, detail = _SEPARATOR_ERRORS.get(frame.nesting[-1][0], _SEPARATOR_ERRORS["interp"])
        return _Diag(summary, detail, rng)

    def _eof_error(self, frame: _Frame) -> _Diag:
        if frame.phase == "value" and frame.nesting and frame.nesting[-1][0] == "string":
            detail = "No closing marker was found for the string."
            return _Diag("Unterminated template string", detail, frame.nesting[-1][1])
        if len(self.frames) > 1:
            return _Diag(
                "Unclosed configuration block",
                "There is no closing brace for this block before the end of the file. "
                "This may be caused by incorrect brace nesting elsewhere in this file.",
                frame.body.open_brace,
            )
        eof = self.eof_range()
        if frame.phase == "value":
            detail = "Expected the start of an expression, but found the end of the file."
            return _Diag("Invalid expression", detail, eof)
        return _Diag("Argument or block definition required", "An argument or block definition is required here.", eof)

    def eof_range(self) -> _Range:
        lines = self.text.split("\n")
        return _Range(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 1)


_SINGLE_CHAR_TOKENS = {
    "{": "LBRACE", "}": "RBRACE", "[": "LSQB", "]": "RSQB", "(": "LPAR", ")": "RPAR", ",": "COMMA",
    "=": "EQ", ":": "COLON", ".": "DOT", "+": "PLUS", "*": "ASTERISK", "/": "SLASH", "%": "PERCENT",
}


def _fallback_token(tok: Token) -> Token | None:
    """The token HCL would see at the start of a fallback STRING_CHARS token (None: invalid)."""
    text = str(tok.value)
    if text.startswith(("\n", "#", "//", "/*")):
        return Token("NL_OR_COMMENT", "\n", tok.start_pos, tok.line, tok.column)
    stripped = text.lstrip(" \t")
    column = tok.column + len(text) - len(stripped)
    if stripped.startswith("\n"):
        return Token("NL_OR_COMMENT", "\n", tok.start_pos, tok.line, column)
    word = re.match(r"[A-Za-z_][A-Za-z0-9_-]*|-?\d+(?:\.\d+)?", stripped)
    if word:
        kind = "NAME" if not word.group(0)[-1].isdigit() else "INT_LITERAL"
        value = word.group(0)
    elif stripped[:1] in _SINGLE_CHAR_TOKENS:
        kind, value = _SINGLE_CHAR_TOKENS[stripped[0]], stripped[0]
    else:
        return None
    return Token(kind, value, tok.start_pos, tok.line, column, tok.line, column + len(value))


_SEPARATOR_ERRORS = {
    "bracket": ("Missing item separator", "Expected a comma to mark the beginning of the next item."),
    "brace": (
        "Missing attribute separator", "Expected a newline or comma to mark the beginning of the next attribute."
    ),
    "paren": ("Missing argument separator", "A comma is required to separate each function argument from the next."),
    "interp": (
        "Extra characters after interpolation expression",
        "Expected a closing brace to end the interpolation expression, but found extra characters.",
    ),
}


def _outline(text: str) -> _Node:
    """Parse ``text`` once to check its syntax and record where everything is."""
    outliner = _Outliner(text)
    interactive = _hcl_parser().parse_interactive(text)
    pending: Token | None = None
    try:
        # A token is yielded before the parser sees it, so feed the outline one step late:
        # on an error the outline then describes the input up to the offending token.
        for tok in interactive.iter_parse():
            if pending is not None:
                outliner.feed(pending)
            pending = tok
        if pending is not None:
            outliner.feed(pending)
            pending = None
        eof = outliner.eof_range()
        interactive.feed_token(Token("$END", "", len(text), eof.line, eof.col))
    except UnexpectedCharacters as exc:
        if pending is not None:
            outliner.feed(pending)
        raise _DiagError([outliner.char_error(exc)], syntax=True) from None
    except UnexpectedToken as exc:
        if pending is not None and exc.token is not pending:
            outliner.feed(pending)  # the lexer, not the parser, rejected what followed
        raise _DiagError([outliner.token_error(exc.token)], syntax=True) from None
    return outliner.root


def _load(text: str) -> tuple[dict, _Node]:
    outline = _outline(text)
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False, preserve_heredocs=True
    )
    try:
        data = hcl2.loads(text, serialization_options=options)
    except Exception as exc:  # python-hcl2 raises assorted error types
        raise _DiagError([_Diag("Invalid syntax", str(exc))], syntax=True) from None
    return data, outline


# ---------------------------------------------------------------------------
# Values: templates, variables and type conversion
# ---------------------------------------------------------------------------

_HEREDOC = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n(.*?)[ \t]*\2\Z", re.DOTALL)
_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{\s*(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}")
_INTERPOLATION = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_PLAIN_REFERENCE = re.compile(r"\s*(?:var|local)\.[A-Za-z_][A-Za-z0-9_-]*\s*")


def _heredoc_text(raw: str) -> str:
    """The value of a heredoc: python-hcl2 gives its source, HCL keeps the final newline."""
    match = _HEREDOC.match(raw)
    if not match:
        return raw
    flush, body = match.group(1), match.group(3)
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


class _ConversionError(Exception):
    pass


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _go_number(value)
    if isinstance(value, str):
        return value
    raise _ConversionError("string required")


def _as_int(value: Any) -> int:
    if isinstance(value, (bool, list, dict)):
        raise _ConversionError("number required")
    if isinstance(value, str):
        try:
            value = float(value) if re.search(r"[.eE]", value) else int(value, 10)
        except ValueError:
            raise _ConversionError("a number is required") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise _ConversionError(
                "value must be a whole number, between -9223372036854775808 and 9223372036854775807 inclusive"
            )
        value = int(value)
    return value


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        raise _ConversionError("a bool is required")
    raise _ConversionError("bool required")


def _as_string_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _ConversionError("list of string required")
    return [_as_string(item) for item in value]


def _as_string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _ConversionError("map of string required")
    return {key: _as_string(item) for key, item in value.items()}


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _as_string,
    "number": _as_int,
    "bool": _as_bool,
    "list": _as_string_list,
    "map": _as_string_map,
    "any": lambda value: value,
}


# ---------------------------------------------------------------------------
# Decoding HCL bodies
# ---------------------------------------------------------------------------


class _Decoder:
    """Collects diagnostics while a jobspec is decoded, as jobspec2 does."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.diags: list[_Diag] = []
        self.scope: dict[str, dict[str, Any]] = {"var": {}, "local": {}}

    def error(self, summary: str, detail: str, subject: _Range | None) -> None:
        self.diags.append(_Diag(summary, detail, subject))

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
        for match in _INTERPOLATION.finditer(text):
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
            return _as_string(value)
        except _ConversionError:
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

    def _reference_range(self, root: str, name: str) -> _Range | None:
        """Where ``.name`` of ``root.name`` first appears (the traversal step HCL blames)."""
        match = re.search(rf"\b{root}\.{re.escape(name)}\b", self.text)
        if not match:
            return None
        start = match.start() + len(root)
        line = self.text.count("\n", 0, start) + 1
        col = start - (self.text.rfind("\n", 0, start) + 1) + 1
        return _Range(line, col, line, col + len(name) + 1)


class _Body:
    """A block body: python-hcl2's dict paired with the outline of the source."""

    def __init__(self, data: dict, node: _Node, dec: _Decoder) -> None:
        self.dec = dec
        self.node = node
        self.attrs: dict[str, tuple[Any, _Node]] = {}
        self.blocks: list[tuple[_Node, list[str], dict]] = []
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
    def check(self, attrs: Iterable[str] = (), blocks: dict[str, list[str]] | None = None,
              unsupported: Iterable[str] = ()) -> bool:
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

    def _unexpected_argument(self, name: str, node: _Node, attrs: set[str], blocks: dict, demo: bool) -> None:
        detail = f'An argument named "{name}" is not expected here.'
        if demo:
            detail = f'The argument "{name}" is not supported by the nomadtui demo cluster.'
        elif name in blocks:
            detail += f' Did you mean to define a block of type "{name}"?'
        elif suggestion := _name_suggestion(name, sorted(attrs)):
            detail += f' Did you mean "{suggestion}"?'
        self.dec.error("Unsupported argument", detail, node.name_range)

    def _unexpected_block(self, node: _Node, attrs: set[str], blocks: dict, demo: bool) -> None:
        detail = f'Blocks of type "{node.name}" are not expected here.'
        if demo:
            detail = f'Blocks of type "{node.name}" are not supported by the nomadtui demo cluster.'
        elif node.name in attrs:
            detail += (f' Did you mean to define argument "{node.name}"? '
                       "If so, use the equals sign to assign it a value.")
        elif suggestion := _name_suggestion(node.name, sorted(blocks)):
            detail += f' Did you mean "{suggestion}"?'
        self.dec.error("Unsupported block type", detail, node.name_range)

    def _check_labels(self, node: _Node, names: list[str]) -> None:
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
        except _ConversionError as exc:
            self.dec.error("Unsuitable value type", f"Unsuitable value: {exc}", node.value_start)
            return None

    def _duration(self, value: Any, node: _Node) -> int | None:
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                self.dec.error("Unsuitable value type", f"Unsuitable duration value: {exc}", node.value_start)
                return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return _as_int(value)
            except _ConversionError as exc:
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
    def block_list(self, name: str) -> list[tuple[list[str], _Body]]:
        return [(labels, _Body(data, node, self.dec)) for node, labels, data in self.blocks if node.name == name]

    def single(self, name: str) -> _Body | None:
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
        return _Body(found[0][1], first, self.dec)

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
            item: Any = _Body(data, node, self.dec).raw_map()
            for label in reversed(labels):
                item = {label: item}
            out.setdefault(node.name, []).append(item)
        return out


# ---------------------------------------------------------------------------
# api.* shapes (the parse endpoint's output)
# ---------------------------------------------------------------------------

_API_JOB_KEYS = (
    "Region", "Namespace", "ID", "Name", "Type", "Priority", "AllAtOnce", "Datacenters", "NodePool",
    "Constraints", "Affinities", "TaskGroups", "Update", "Multiregion", "Spreads", "Periodic",
    "ParameterizedJob", "Reschedule", "Migrate", "Meta", "UI", "Stop", "ParentID", "Dispatched",
    "DispatchIdempotencyToken", "Payload", "ConsulNamespace", "VaultNamespace", "NomadTokenID", "Status",
    "StatusDescription", "Stable", "Version", "SubmitTime", "CreateIndex", "ModifyIndex", "JobModifyIndex",
    "VersionTag",
)
_API_GROUP_KEYS = (
    "Name", "Count", "Constraints", "Affinities", "Tasks", "Spreads", "Volumes", "RestartPolicy", "Disconnect",
    "ReschedulePolicy", "EphemeralDisk", "Update", "Migrate", "Networks", "Meta", "Services", "ShutdownDelay",
    "MaxRunDuration", "StopAfterClientDisconnect", "MaxClientDisconnect", "Scaling", "Consul",
    "PreventRescheduleOnLost",
)
_API_TASK_KEYS = (
    "Name", "Driver", "User", "Lifecycle", "Config", "Constraints", "Affinities", "Env", "Services", "Resources",
    "RestartPolicy", "Meta", "KillTimeout", "LogConfig", "Artifacts", "Vault", "Secrets", "Consul", "Templates",
    "DispatchPayload", "VolumeMounts", "Leader", "ShutdownDelay", "KillSignal", "Kind", "ScalingPolicies",
    "Identity", "Identities", "Actions", "Schedule",
)
_API_SERVICE_KEYS = (
    "Name", "Tags", "CanaryTags", "EnableTagOverride", "PortLabel", "AddressMode", "Address", "Checks",
    "CheckRestart", "Connect", "Meta", "CanaryMeta", "TaggedAddresses", "TaskName", "OnUpdate", "Identity",
    "Weights", "Provider", "Cluster", "Kind",
)
_API_CHECK_KEYS = (
    "Name", "Type", "Command", "Args", "Path", "Protocol", "PortLabel", "Expose", "AddressMode", "Advertise",
    "Interval", "Timeout", "InitialStatus", "Notes", "TLSServerName", "TLSSkipVerify", "Header", "Method",
    "CheckRestart", "GRPCService", "GRPCUseTLS", "TaskName", "SuccessBeforePassing", "FailuresBeforeCritical",
    "FailuresBeforeWarning", "Body", "OnUpdate",
)
_API_RESOURCES_KEYS = (
    "CPU", "Cores", "MemoryMB", "MemoryMaxMB", "DiskMB", "Networks", "Devices", "NUMA", "SecretsMB", "IOPS",
)
_API_NETWORK_KEYS = (
    "Mode", "Device", "CIDR", "IP", "DNS", "ReservedPorts", "DynamicPorts", "Hostname", "MBits", "CNI",
)
_API_TEMPLATE_KEYS = (
    "SourcePath", "DestPath", "EmbeddedTmpl", "ChangeMode", "ChangeScript", "ChangeSignal", "Splay", "Perms",
    "Uid", "Gid", "LeftDelim", "RightDelim", "Envvars", "VaultGrace", "Wait", "ErrMissingKey", "Once",
)
_UPDATE_KEYS = (
    "Stagger", "MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline", "ProgressDeadline",
    "Canary", "AutoRevert", "AutoPromote",
)


def _blank(keys: Iterable[str], **values: Any) -> dict:
    out = dict.fromkeys(keys)
    out.update(values)
    return out


def _api_task_blank() -> dict:
    return _blank(_API_TASK_KEYS, Name="", Driver="", User="", Leader=False, ShutdownDelay=0, KillSignal="", Kind="")


def _api_service_blank() -> dict:
    strings = ("Name", "PortLabel", "AddressMode", "Address", "TaskName", "OnUpdate", "Provider", "Cluster", "Kind")
    return _blank(_API_SERVICE_KEYS, EnableTagOverride=False, **dict.fromkeys(strings, ""))


def _api_check_blank() -> dict:
    strings = ("Name", "Type", "Command", "Path", "Protocol", "PortLabel", "AddressMode", "Advertise",
               "InitialStatus", "Notes", "TLSServerName", "Method", "GRPCService", "TaskName", "Body", "OnUpdate")
    numbers = ("Interval", "Timeout", "SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning")
    return _blank(_API_CHECK_KEYS, Expose=False, TLSSkipVerify=False, GRPCUseTLS=False,
                  **dict.fromkeys(strings, ""), **dict.fromkeys(numbers, 0))


def _api_port(label: str) -> dict:
    return {"Label": label, "Value": 0, "To": 0, "HostNetwork": "", "IgnoreCollision": False}


# hcl argument -> (Go field, kind) tables, per block.
_JOB_ATTRS = {
    "region": ("Region", "string"), "namespace": ("Namespace", "string"), "id": ("ID", "string"),
    "name": ("Name", "string"), "type": ("Type", "string"), "priority": ("Priority", "number"),
    "all_at_once": ("AllAtOnce", "bool"), "datacenters": ("Datacenters", "list"),
    "node_pool": ("NodePool", "string"),
}
_GROUP_ATTRS = {
    "count": ("Count", "number"), "shutdown_delay": ("ShutdownDelay", "duration"),
    "max_run_duration": ("MaxRunDuration", "duration"),
    "stop_after_client_disconnect": ("StopAfterClientDisconnect", "duration"),
    "max_client_disconnect": ("MaxClientDisconnect", "duration"),
    "prevent_reschedule_on_lost": ("PreventRescheduleOnLost", "bool"),
}
_TASK_ATTRS = {
    "driver": ("Driver", "string"), "user": ("User", "string"), "leader": ("Leader", "bool"),
    "kill_timeout": ("KillTimeout", "duration"), "kill_signal": ("KillSignal", "string"),
    "shutdown_delay": ("ShutdownDelay", "duration"), "kind": ("Kind", "string"),
}
_UPDATE_ATTRS = {
    "stagger": ("Stagger", "duration"), "max_parallel": ("MaxParallel", "number"),
    "health_check": ("HealthCheck", "string"), "min_healthy_time": ("MinHealthyTime", "duration"),
    "healthy_deadline": ("HealthyDeadline", "duration"), "progress_deadline": ("ProgressDeadline", "duration"),
    "canary": ("Canary", "number"), "auto_revert": ("AutoRevert", "bool"), "auto_promote": ("AutoPromote", "bool"),
}
_RESTART_ATTRS = {
    "interval": ("Interval", "duration"), "attempts": ("Attempts", "number"), "delay": ("Delay", "duration"),
    "mode": ("Mode", "string"), "render_templates": ("RenderTemplates", "bool"),
}
_RESCHEDULE_ATTRS = {
    "attempts": ("Attempts", "number"), "interval": ("Interval", "duration"), "delay": ("Delay", "duration"),
    "delay_function": ("DelayFunction", "string"), "max_delay": ("MaxDelay", "duration"),
    "unlimited": ("Unlimited", "bool"),
}
_MIGRATE_ATTRS = {
    "max_parallel": ("MaxParallel", "number"), "health_check": ("HealthCheck", "string"),
    "min_healthy_time": ("MinHealthyTime", "duration"), "healthy_deadline": ("HealthyDeadline", "duration"),
}
_DISK_ATTRS = {"sticky": ("Sticky", "bool"), "migrate": ("Migrate", "bool"), "size": ("SizeMB", "number")}
_LOGS_ATTRS = {
    "max_files": ("MaxFiles", "number"), "max_file_size": ("MaxFileSizeMB", "number"),
    "enabled": ("Enabled", "bool"), "disabled": ("Disabled", "bool"),
}
_RESOURCES_ATTRS = {
    "cpu": ("CPU", "number"), "cores": ("Cores", "number"), "memory": ("MemoryMB", "number"),
    "memory_max": ("MemoryMaxMB", "number"), "disk": ("DiskMB", "number"), "iops": ("IOPS", "number"),
    "secrets": ("SecretsMB", "number"),
}
_NETWORK_ATTRS = {
    "mode": ("Mode", "string"), "device": ("Device", "string"), "cidr": ("CIDR", "string"),
    "ip": ("IP", "string"), "hostname": ("Hostname", "string"), "mbits": ("MBits", "number"),
}
_PORT_ATTRS = {
    "static": ("Value", "number"), "to": ("To", "number"), "host_network": ("HostNetwork", "string"),
    "ignore_collision": ("IgnoreCollision", "bool"),
}
_SERVICE_ATTRS = {
    "name": ("Name", "string"), "tags": ("Tags", "list"), "canary_tags": ("CanaryTags", "list"),
    "enable_tag_override": ("EnableTagOverride", "bool"), "port": ("PortLabel", "string"),
    "address_mode": ("AddressMode", "string"), "address": ("Address", "string"), "task": ("TaskName", "string"),
    "on_update": ("OnUpdate", "string"), "provider": ("Provider", "string"), "cluster": ("Cluster", "string"),
    "kind": ("Kind", "string"),
}
_CHECK_ATTRS = {
    "name": ("Name", "string"), "type": ("Type", "string"), "command": ("Command", "string"),
    "args": ("Args", "list"), "path": ("Path", "string"), "protocol": ("Protocol", "string"),
    "port": ("PortLabel", "string"), "expose": ("Expose", "bool"), "address_mode": ("AddressMode", "string"),
    "advertise": ("Advertise", "string"), "interval": ("Interval", "duration"), "timeout": ("Timeout", "duration"),
    "initial_status": ("InitialStatus", "string"), "notes": ("Notes", "string"),
    "tls_server_name": ("TLSServerName", "string"), "tls_skip_verify": ("TLSSkipVerify", "bool"),
    "method": ("Method", "string"), "grpc_service": ("GRPCService", "string"),
    "grpc_use_tls": ("GRPCUseTLS", "bool"), "task": ("TaskName", "string"),
    "success_before_passing": ("SuccessBeforePassing", "number"),
    "failures_before_critical": ("FailuresBeforeCritical", "number"),
    "failures_before_warning": ("FailuresBeforeWarning", "number"), "body": ("Body", "string"),
    "on_update": ("OnUpdate", "string"),
}
_CHECK_RESTART_ATTRS = {
    "limit": ("Limit", "number"), "grace": ("Grace", "duration"), "ignore_warnings": ("IgnoreWarnings", "bool"),
}
_TEMPLATE_ATTRS = {
    "source": ("SourcePath", "string"), "destination": ("DestPath", "string"), "data": ("EmbeddedTmpl", "string"),
    "change_mode": ("ChangeMode", "string"), "change_signal": ("ChangeSignal", "string"),
    "splay": ("Splay", "duration"), "perms": ("Perms", "string"), "uid": ("Uid", "number"),
    "gid": ("Gid", "number"), "left_delimiter": ("LeftDelim", "string"),
    "right_delimiter": ("RightDelim", "string"), "env": ("Envvars", "bool"),
    "vault_grace": ("VaultGrace", "duration"), "error_on_missing_key": ("ErrMissingKey", "bool"),
    "once": ("Once", "bool"),
}
_ARTIFACT_ATTRS = {
    "source": ("GetterSource", "string"), "destination": ("RelativeDest", "string"),
    "mode": ("GetterMode", "string"), "insecure": ("GetterInsecure", "bool"), "chown": ("Chown", "bool"),
}
_PERIODIC_ATTRS = {
    "enabled": ("Enabled", "bool"), "cron": ("Spec", "string"), "crons": ("Specs", "list"),
    "prohibit_overlap": ("ProhibitOverlap", "bool"), "time_zone": ("TimeZone", "string"),
}
_PARAMETERIZED_ATTRS = {
    "payload": ("Payload", "string"), "meta_required": ("MetaRequired", "list"),
    "meta_optional": ("MetaOptional", "list"),
}
_CONSTRAINT_OPERATORS = ("version", "semver", "regexp", "set_contains", "set_contains_all", "set_contains_any")

# Valid in Nomad, but the demo cluster does not model them.
_JOB_UNSUPPORTED = ("vault", "multiregion", "ui", "consul_token", "vault_token", "vault_namespace", "consul_namespace")
_GROUP_UNSUPPORTED = ("volume", "scaling", "consul", "disconnect", "vault")
_TASK_UNSUPPORTED = ("vault", "consul", "volume_mount", "csi_plugin", "scaling", "identity", "action",
                     "schedule", "secret")
_SERVICE_UNSUPPORTED = ("connect", "identity")


class _JobDecoder:
    """Turns the decoded ``job`` block into api.Job JSON, like jobspec2."""

    def __init__(self, dec: _Decoder) -> None:
        self.dec = dec

    def job(self, body: _Body, job_id: str) -> dict:
        job = _blank(_API_JOB_KEYS, Dispatched=False)
        body.check(
            [*_JOB_ATTRS, "meta"],
            {"constraint": [], "affinity": [], "spread": [], "group": ["name"], "update": [], "periodic": [],
             "parameterized": [], "reschedule": [], "migrate": [], "meta": [], "task": ["name"]},
            _JOB_UNSUPPORTED,
        )
        body.fill(job, _JOB_ATTRS)
        job["Meta"] = body.string_map("meta")
        job["Constraints"] = self._list(body, "constraint", self.constraint)
        job["Affinities"] = self._list(body, "affinity", self.affinity)
        job["Spreads"] = self._list(body, "spread", self.spread)
        job["Update"] = self._single(body, "update", _UPDATE_ATTRS)
        job["Reschedule"] = self._single(body, "reschedule", _RESCHEDULE_ATTRS)
        job["Migrate"] = self._single(body, "migrate", _MIGRATE_ATTRS)
        job["Periodic"] = self._periodic(body)
        job["ParameterizedJob"] = self._single(body, "parameterized", _PARAMETERIZED_ATTRS, zero={"Payload": ""})
        groups = [self.group(labels, group) for labels, group in body.block_list("group")]
        # Job-level tasks each become a group of their own, placed first.
        alone = [_blank(_API_GROUP_KEYS, Name=task["Name"], Tasks=[task])
                 for task in (self.task(labels, part) for labels, part in body.block_list("task"))]
        job["TaskGroups"] = (alone + groups) or None
        _normalize(job, job_id)
        return job

    @staticmethod
    def _list(body: _Body, name: str, convert: Callable[[_Body], dict]) -> list[dict] | None:
        return [convert(part) for _, part in body.block_list(name)] or None

    @staticmethod
    def _single(body: _Body, name: str, table: dict[str, tuple[str, str]], zero: dict | None = None) -> dict | None:
        part = body.single(name)
        if part is None:
            return None
        part.check(table)
        out = dict.fromkeys(key for key, _ in table.values())
        out.update(zero or {})
        return part.fill(out, table)

    def constraint(self, body: _Body) -> dict:
        attrs = {"attribute", "value", "operator", "distinct_hosts", "distinct_property", "is_set", "is_not_set",
                 *_CONSTRAINT_OPERATORS}
        body.check(attrs)
        out = {
            "LTarget": body.value("attribute", "string") or "",
            "RTarget": body.value("value", "string") or "",
            "Operand": body.value("operator", "string") or "",
        }
        for operator in ("version", "semver", "regexp", "set_contains"):
            if value := body.value(operator, "string"):
                out["Operand"], out["RTarget"] = operator, value
        if body.value("distinct_hosts", "bool"):
            out["Operand"] = "distinct_hosts"
        if prop := body.value("distinct_property", "string"):
            out["Operand"], out["LTarget"] = "distinct_property", prop
        out["Operand"] = out["Operand"] or "="
        return out

    def affinity(self, body: _Body) -> dict:
        body.check({"attribute", "value", "operator", "weight", *_CONSTRAINT_OPERATORS})
        out = {
            "LTarget": body.value("attribute", "string") or "",
            "RTarget": body.value("value", "string") or "",
            "Operand": body.value("operator", "string") or "",
            "Weight": body.value("weight", "number"),
        }
        for operator in ("version", "semver", "regexp", "set_contains_any", "set_contains_all", "set_contains"):
            if value := body.value(operator, "string"):
                out["Operand"], out["RTarget"] = operator, value
        out["Operand"] = out["Operand"] or "="
        return out

    def spread(self, body: _Body) -> dict:
        body.check({"attribute", "weight"}, {"target": [""]})
        targets = []
        for labels, part in body.block_list("target"):
            part.check({"percent"})
            targets.append({"Value": labels[0] if labels else "", "Percent": part.value("percent", "number") or 0})
        return {"Attribute": body.value("attribute", "string") or "", "Weight": body.value("weight", "number"),
                "SpreadTarget": targets or None}

    @staticmethod
    def _periodic(body: _Body) -> dict | None:
        part = body.single("periodic")
        if part is None:
            return None
        part.check(_PERIODIC_ATTRS)
        out = dict.fromkeys(("Enabled", "Spec", "Specs", "SpecType", "ProhibitOverlap", "TimeZone"))
        return part.fill(out, _PERIODIC_ATTRS)

    # -- group ------------------------------------------------------------------
    def group(self, labels: list[str], body: _Body) -> dict:
        group = _blank(_API_GROUP_KEYS, Name=labels[0] if labels else "")
        body.check(
            [*_GROUP_ATTRS, "meta"],
            {"constraint": [], "affinity": [], "spread": [], "task": ["name"], "restart": [], "reschedule": [],
             "ephemeral_disk": [], "update": [], "migrate": [], "network": [], "meta": [], "service": []},
            _GROUP_UNSUPPORTED,
        )
        body.fill(group, _GROUP_ATTRS)
        group["Meta"] = body.string_map("meta")
        group["Constraints"] = self._list(body, "constraint", self.constraint)
        group["Affinities"] = self._list(body, "affinity", self.affinity)
        group["Spreads"] = self._list(body, "spread", self.spread)
        group["RestartPolicy"] = self._single(body, "restart", _RESTART_ATTRS)
        group["ReschedulePolicy"] = self._single(body, "reschedule", _RESCHEDULE_ATTRS)
        group["EphemeralDisk"] = self._single(body, "ephemeral_disk", _DISK_ATTRS)
        group["Update"] = self._single(body, "update", _UPDATE_ATTRS)
        group["Migrate"] = self._single(body, "migrate", _MIGRATE_ATTRS)
        group["Networks"] = self._list(body, "network", self.network)
        group["Services"] = self._list(body, "service", self.service)
        group["Tasks"] = [self.task(task_labels, task) for task_labels, task in body.block_list("task")] or None
        return group

    def network(self, body: _Body) -> dict:
        network = _blank(_API_NETWORK_KEYS, Mode="", Device="", CIDR="", IP="", Hostname="")
        body.check(_NETWORK_ATTRS, {"port": [""], "reserved_ports": [""], "dns": []}, ("cni",))
        body.fill(network, _NETWORK_ATTRS)
        network["DynamicPorts"] = self._ports(body, "port")
        network["ReservedPorts"] = self._ports(body, "reserved_ports")
        dns = body.single("dns")
        if dns is not None:
            dns.check({"servers", "searches", "options"})
            network["DNS"] = {"Servers": dns.value("servers", "list"), "Searches": dns.value("searches", "list"),
                              "Options": dns.value("options", "list")}
        return network

    @staticmethod
    def _ports(body: _Body, name: str) -> list[dict] | None:
        ports = []
        for labels, part in body.block_list(name):
            part.check(_PORT_ATTRS)
            ports.append(part.fill(_api_port(labels[0] if labels else ""), _PORT_ATTRS))
        return ports or None

    def service(self, body: _Body) -> dict:
        service = _api_service_blank()
        body.check(
            [*_SERVICE_ATTRS, "meta", "canary_meta", "tagged_addresses"],
            {"check": [], "check_restart": [], "meta": [], "canary_meta": [], "tagged_addresses": [],
             "weights": []},
            _SERVICE_UNSUPPORTED,
        )
        body.fill(service, _SERVICE_ATTRS)
        service["Meta"] = body.string_map("meta")
        service["CanaryMeta"] = body.string_map("canary_meta")
        service["TaggedAddresses"] = body.string_map("tagged_addresses")
        service["CheckRestart"] = self._check_restart(body)
        weights = body.single("weights")
        if weights is not None:
            weights.check({"passing", "warning"})
            service["Weights"] = {"Passing": weights.value("passing", "number") or 0,
                                  "Warning": weights.value("warning", "number") or 0}
        service["Checks"] = [self.check(part) for _, part in body.block_list("check")] or None
        return service

    def check(self, body: _Body) -> dict:
        check = _api_check_blank()
        body.check(_CHECK_ATTRS, {"header": [], "check_restart": []})
        body.fill(check, _CHECK_ATTRS)
        check["CheckRestart"] = self._check_restart(body)
        header = body.single("header")
        if header is not None:
            header.check(header.attrs)
            check["Header"] = {name: header.value(name, "list") or [] for name in header.attrs}
        return check

    def _check_restart(self, body: _Body) -> dict | None:
        out = self._single(body, "check_restart", _CHECK_RESTART_ATTRS, zero={"Limit": 0, "IgnoreWarnings": False})
        return out

    # -- task -----------------------------------------------------------------
    def task(self, labels: list[str], body: _Body) -> dict:
        task = _api_task_blank()
        task["Name"] = labels[0] if labels else ""
        body.check(
            [*_TASK_ATTRS, "meta", "env"],
            {"config": [], "env": [], "meta": [], "resources": [], "service": [], "constraint": [],
             "affinity": [], "restart": [], "logs": [], "artifact": [], "template": [], "lifecycle": [],
             "dispatch_payload": []},
            _TASK_UNSUPPORTED,
        )
        body.fill(task, _TASK_ATTRS)
        config = body.single("config")
        task["Config"] = config.raw_map() if config is not None else None
        task["Env"] = body.string_map("env")
        task["Meta"] = body.string_map("meta")
        task["Resources"] = self._resources(body)
        task["Services"] = self._list(body, "service", self.service)
        task["Constraints"] = self._list(body, "constraint", self.constraint)
        task["Affinities"] = self._list(body, "affinity", self.affinity)
        task["RestartPolicy"] = self._single(body, "restart", _RESTART_ATTRS)
        task["LogConfig"] = self._single(body, "logs", _LOGS_ATTRS)
        task["Artifacts"] = self._list(body, "artifact", self.artifact)
        task["Templates"] = self._list(body, "template", self.template)
        lifecycle = {"hook": ("Hook", "string"), "sidecar": ("Sidecar", "bool")}
        task["Lifecycle"] = self._single(body, "lifecycle", lifecycle, zero={"Hook": "", "Sidecar": False})
        payload = {"file": ("File", "string")}
        task["DispatchPayload"] = self._single(body, "dispatch_payload", payload, zero={"File": ""})
        return task

    def _resources(self, body: _Body) -> dict | None:
        part = body.single("resources")
        if part is None:
            return None
        part.check(_RESOURCES_ATTRS, {"network": []}, ("device", "numa"))
        resources = part.fill(_blank(_API_RESOURCES_KEYS), _RESOURCES_ATTRS)
        resources["Networks"] = self._list(part, "network", self.network)
        return resources

    def artifact(self, body: _Body) -> dict:
        body.check([*_ARTIFACT_ATTRS, "options", "headers"], {"options": [], "headers": []})
        out = _blank(("GetterSource", "GetterOptions", "GetterHeaders", "GetterMode", "GetterInsecure",
                      "RelativeDest", "Chown"), Chown=False)
        body.fill(out, _ARTIFACT_ATTRS)
        out["GetterOptions"] = body.string_map("options")
        out["GetterHeaders"] = body.string_map("headers")
        return out

    def template(self, body: _Body) -> dict:
        body.check(_TEMPLATE_ATTRS, {"wait": [], "change_script": []})
        out = body.fill(_blank(_API_TEMPLATE_KEYS), _TEMPLATE_ATTRS)
        wait = body.single("wait")
        if wait is not None:
            wait.check({"min", "max"})
            out["Wait"] = {"Min": wait.value("min", "duration"), "Max": wait.value("max", "duration")}
        out["ChangeScript"] = self._single(body, "change_script", {
            "command": ("Command", "string"), "args": ("Args", "list"), "timeout": ("Timeout", "duration"),
            "fail_on_error": ("FailOnError", "bool"),
        })
        return out


def _normalize(job: dict, job_id: str) -> None:
    """jobspec2's normalizeJob: label defaults, static ports, template defaults."""
    if job["Name"] is None:
        job["Name"] = job_id
    if job["ID"] is None:
        job["ID"] = job_id
    periodic = job["Periodic"]
    if periodic is not None and periodic.get("Spec") is not None:
        periodic["SpecType"] = "cron"
    for group in job["TaskGroups"] or []:
        _normalize_ports(group.get("Networks"))
        for task in group.get("Tasks") or []:
            if task.get("Resources"):
                _normalize_ports(task["Resources"].get("Networks"))
            for template in task.get("Templates") or []:
                _setdefault(template, ChangeMode="restart", Perms="0644", Splay=5 * SECOND, ErrMissingKey=False)
                script = template.get("ChangeScript")
                if script is not None:
                    _setdefault(script, Args=[], Timeout=5 * SECOND, FailOnError=False)


def _normalize_ports(networks: list[dict] | None) -> None:
    for network in networks or []:
        ports = network.get("DynamicPorts") or []
        if not ports:
            continue
        network["DynamicPorts"] = [port for port in ports if port["Value"] <= 0] or None
        network["ReservedPorts"] = [port for port in ports if port["Value"] > 0] or None


def _setdefault(target: dict, **defaults: Any) -> dict:
    """Fill keys that are missing or None (Go: ``if x == nil { x = default }``)."""
    for key, value in defaults.items():
        if target.get(key) is None:
            target[key] = copy.deepcopy(value)
    return target


# ---------------------------------------------------------------------------
# Variables and the top level of the file
# ---------------------------------------------------------------------------


def _parse_text(text: str, prefix: str = "") -> tuple[dict, _Node]:
    try:
        return _load(text)
    except _DiagError as err:
        err.prefix = prefix
        raise


def _variable_type(raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw.removeprefix("${").removesuffix("}").strip()
    return None


def _typed(value: Any, type_name: str | None) -> Any:
    converters = {"string": _as_string, "number": _as_int_or_float, "bool": _as_bool}
    if type_name in converters and value is not None:
        return converters[type_name](value)
    return value


def _as_int_or_float(value: Any) -> int | float:
    if isinstance(value, float) or (isinstance(value, str) and re.search(r"[.eE]", value)):
        try:
            return float(value)
        except ValueError:
            raise _ConversionError("a number is required") from None
    return _as_int(value)


class _FileDecoder:
    """The top level of a jobspec: variables, locals and exactly one job."""

    def __init__(self, text: str, var_text: str | None) -> None:
        self.dec = _Decoder(text)
        self.var_text = var_text

    def decode(self) -> dict:
        data, outline = _parse_text(self.dec.text)
        overrides = self._var_file()
        root = _Body(data, outline, self.dec)
        if not root.check((), {"variable": ["name"], "variables": [], "locals": [], "job": ["name"]}):
            raise _DiagError(self.dec.diags)
        self._variables(root, overrides)
        self._locals(root)
        job = self._job(root)
        if self.dec.diags:
            raise _DiagError(self.dec.diags)
        assert job is not None
        return job

    def _var_file(self) -> dict[str, Any]:
        if not self.var_text:
            return {}
        if self.var_text.lstrip(" ").startswith("{"):
            try:
                return json.loads(self.var_text)
            except ValueError as exc:
                raise JobspecError(f"Failed to parse job: unable to parse var content: {exc}") from None
        data, outline = _parse_text(self.var_text, prefix="unable to parse var content: ")
        body = _Body(data, outline, _Decoder(self.var_text))
        return {name: body.dec.evaluate(raw) for name, (raw, _) in body.attrs.items()}

    def _variables(self, root: _Body, overrides: dict[str, Any]) -> None:
        declared: dict[str, tuple[Any, bool, str | None, _Node]] = {}
        for labels, body in root.block_list("variable"):
            body.check({"description", "default", "type"}, {"validation": []})
            name = labels[0] if labels else ""
            default = body.dec.evaluate(body.attrs["default"][0]) if "default" in body.attrs else None
            type_name = _variable_type(body.attrs["type"][0]) if "type" in body.attrs else None
            declared[name] = (default, "default" in body.attrs, type_name, body.node)
        for _, body in root.block_list("variables"):
            for name, (raw, node) in body.attrs.items():
                declared[name] = (body.dec.evaluate(raw), True, None, node)
        for name, (default, has_value, type_name, node) in declared.items():
            if name in overrides:
                default, has_value = overrides[name], True
            if not has_value:
                self.dec.error(
                    f'Unset variable "{name}"',
                    f"A used variable must be set or have a default value; see {VARIABLES_DOCS} for details.",
                    None,
                )
                self.dec.scope["var"][name] = None
                continue
            try:
                self.dec.scope["var"][name] = _typed(default, type_name)
            except _ConversionError as exc:
                self.dec.error("Invalid value for variable", f"Unsuitable value: {exc}", node.def_range)

    def _locals(self, root: _Body) -> None:
        for _, body in root.block_list("locals"):
            for name, (raw, _) in body.attrs.items():
                self.dec.scope["local"][name] = self.dec.evaluate(raw)

    def _job(self, root: _Body) -> dict | None:
        jobs = root.block_list("job")
        if not jobs:
            self.dec.error("Missing job block", "A job block is required", None)
            return None
        first = jobs[0][1].node
        for _, body in jobs[1:]:
            self.dec.error(
                "Duplicate job block",
                f'Only one block of type "job" is allowed. Previous definition was at {first.def_range}.',
                body.node.def_range,
            )
        labels, body = jobs[0]
        return _JobDecoder(self.dec).job(body, labels[0] if labels else "")


def parse_hcl(text: str, variables: str | None = None, canonicalize: bool = False) -> dict:
    """What ``POST /v1/jobs/parse`` returns for ``JobHCL``/``Variables``/``Canonicalize``.

    Raises ``JobspecError`` with the HTTP 400 body text on any failure.
    """
    if text == "":
        raise JobspecError("Job spec is empty")
    try:
        job = _FileDecoder(text, variables).decode()
    except _DiagError as err:
        raise err.to_jobspec_error() from None
    if canonicalize:
        canonicalize_api(job)
    return job


# ---------------------------------------------------------------------------
# api Canonicalize
# ---------------------------------------------------------------------------


def _default_update() -> dict:
    return {
        "Stagger": 30 * SECOND, "MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 5 * MINUTE, "ProgressDeadline": 10 * MINUTE, "Canary": 0, "AutoRevert": False,
        "AutoPromote": False,
    }


def _default_reschedule(job_type: str) -> dict:
    if job_type == "service":
        return {"Attempts": 0, "Interval": 0, "Delay": 30 * SECOND, "DelayFunction": "exponential",
                "MaxDelay": HOUR, "Unlimited": True}
    if job_type == "batch":
        return {"Attempts": 1, "Interval": 24 * HOUR, "Delay": 5 * SECOND, "DelayFunction": "constant",
                "MaxDelay": 0, "Unlimited": False}
    return {"Attempts": 0, "Interval": 0, "Delay": 0, "DelayFunction": "", "MaxDelay": 0, "Unlimited": False}


def _default_restart(job_type: str) -> dict:
    if job_type in ("service", "system"):
        return {"Interval": 30 * MINUTE, "Attempts": 2, "Delay": 15 * SECOND, "Mode": "fail", "RenderTemplates": False}
    return {"Interval": 24 * HOUR, "Attempts": 3, "Delay": 15 * SECOND, "Mode": "fail", "RenderTemplates": False}


def _update_is_empty(update: dict | None) -> bool:
    """api UpdateStrategy.Empty(): no field holds a non-zero value."""
    return not update or not any(update.get(key) for key in _UPDATE_KEYS)


def _merge_set(base: dict, override: dict | None) -> dict:
    """Go's ``Merge``: fields set (non-nil) in ``override`` win."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is not None:
            merged[key] = copy.deepcopy(value)
    return merged


def canonicalize_api(job: dict) -> dict:
    """api ``Job.Canonicalize``: fill every default a real agent fills (in place)."""
    for key in _API_JOB_KEYS:
        job.setdefault(key, None)
    job["Dispatched"] = bool(job.get("Dispatched"))
    _setdefault(job, ID="")
    _setdefault(job, Name=job["ID"], ParentID="", Namespace="default", Priority=50, Stop=False, Region="global",
                NodePool="", Type="service", AllAtOnce=False, ConsulNamespace="", VaultNamespace="",
                NomadTokenID="", Status="", StatusDescription="", Stable=False, Version=0, CreateIndex=0,
                ModifyIndex=0, JobModifyIndex=0)
    if job["Periodic"] is not None:
        _canon_periodic(job["Periodic"])
    if job["Update"] is not None:
        job["Update"] = _merge_set(_default_update(), job["Update"])
    elif job["Type"] == "service":
        job["Update"] = _default_update()
    for group in job["TaskGroups"] or []:
        _canon_group(group, job)
    for item in (job["Spreads"] or []) + (job["Affinities"] or []):
        _setdefault(item, Weight=50)
    return job


def _canon_periodic(periodic: dict) -> None:
    _setdefault(periodic, Enabled=True, SpecType="cron", ProhibitOverlap=False)
    if not periodic.get("Spec") and not periodic.get("Specs"):
        periodic["Spec"] = ""
    if not periodic.get("TimeZone"):
        periodic["TimeZone"] = "UTC"


def _canon_group(group: dict, job: dict) -> None:
    for key in _API_GROUP_KEYS:
        group.setdefault(key, None)
    job_type = job["Type"]
    _setdefault(group, Name="")
    if group["Count"] is None:
        group["Count"] = 1
    group["EphemeralDisk"] = _merge_set({"Sticky": False, "Migrate": False, "SizeMB": 300}, group["EphemeralDisk"])
    consul = _merge_set({"Namespace": "", "Cluster": "", "Partition": ""}, group["Consul"])
    consul["Namespace"] = consul["Namespace"] or job["ConsulNamespace"]
    consul["Cluster"] = consul["Cluster"] or "default"
    group["Consul"] = consul
    group["Update"] = _group_update(group["Update"], job["Update"])
    group["ReschedulePolicy"] = _group_reschedule(group["ReschedulePolicy"], job["Reschedule"], job_type)
    group["Migrate"] = _group_migrate(group["Migrate"], job["Migrate"], job_type)
    group["RestartPolicy"] = _merge_set(_default_restart(job_type), group["RestartPolicy"])
    for task in group["Tasks"] or []:
        _canon_task(task, group, job)
    for item in (group["Spreads"] or []) + (group["Affinities"] or []):
        _setdefault(item, Weight=50)
    for service in group["Services"] or []:
        _canon_service(service, None, group, job)
    if group["PreventRescheduleOnLost"] is None:
        group["PreventRescheduleOnLost"] = False


def _group_update(own: dict | None, job_update: dict | None) -> dict | None:
    if job_update is not None and own is not None:
        own = _merge_set(job_update, own)
    elif job_update is not None and not _update_is_empty(job_update):
        own = copy.deepcopy(job_update)
    return _merge_set(_default_update(), own) if own is not None else None


def _group_reschedule(own: dict | None, job_policy: dict | None, job_type: str) -> dict | None:
    if job_policy is not None:
        own = _merge_set(job_policy, own)
    if own is None and job_type != "system":
        own = _default_reschedule(job_type)
    return _merge_set(_default_reschedule(job_type), own) if own is not None else None


def _group_migrate(own: dict | None, job_migrate: dict | None, job_type: str) -> dict | None:
    if job_migrate is not None:
        own = _merge_set(job_migrate, own)
    if own is None and job_type == "service":
        own = {}
    defaults = {"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * SECOND, "HealthyDeadline": 5 * MINUTE}
    return _merge_set(defaults, own) if own is not None else None


def _canon_task(task: dict, group: dict, job: dict) -> None:
    for key, value in _api_task_blank().items():
        task.setdefault(key, value)
    resources = _blank(_API_RESOURCES_KEYS)
    resources.update(task["Resources"] or {})
    _canon_resources(resources)
    task["Resources"] = resources
    _setdefault(task, KillTimeout=5 * SECOND)
    task["LogConfig"] = _merge_set({"MaxFiles": 10, "MaxFileSizeMB": 10, "Enabled": None, "Disabled": False},
                                   task["LogConfig"])
    for artifact in task["Artifacts"] or []:
        _canon_artifact(artifact)
    for template in task["Templates"] or []:
        _canon_template(template)
    for service in task["Services"] or []:
        _canon_service(service, task, group, job)
    for affinity in task["Affinities"] or []:
        _setdefault(affinity, Weight=50)
    if not (task["Lifecycle"] or {}).get("Hook"):
        task["Lifecycle"] = None
    task["RestartPolicy"] = _merge_set(group["RestartPolicy"], task["RestartPolicy"])


def _canon_resources(resources: dict) -> None:
    if resources["Cores"] is None:
        resources["Cores"] = 0
        if resources["CPU"] is None:
            resources["CPU"] = 100
    if resources["CPU"] is None:
        resources["CPU"] = 0
    if resources["MemoryMB"] is None:
        resources["MemoryMB"] = 300


def _canon_artifact(artifact: dict) -> None:
    _setdefault(artifact, GetterMode="any", GetterInsecure=False, GetterSource="")
    for key in ("GetterOptions", "GetterHeaders"):
        if not artifact.get(key):
            artifact[key] = None
    if artifact.get("RelativeDest") is None:
        if artifact["GetterMode"] == "file":
            artifact["RelativeDest"] = "local/" + artifact["GetterSource"].rstrip("/").rsplit("/", 1)[-1]
        else:
            artifact["RelativeDest"] = "local/"


def _canon_template(template: dict) -> None:
    _setdefault(template, SourcePath="", DestPath="", EmbeddedTmpl="", ChangeMode="restart")
    if template.get("ChangeSignal") is None:
        template["ChangeSignal"] = "SIGHUP" if template["ChangeMode"] == "signal" else ""
    else:
        template["ChangeSignal"] = template["ChangeSignal"].upper()
    if template.get("ChangeScript") is not None:
        _setdefault(template["ChangeScript"], Command="", Args=[], Timeout=5 * SECOND, FailOnError=False)
    _setdefault(template, Splay=5 * SECOND, Perms="0644", LeftDelim="{{", RightDelim="}}", Envvars=False,
                ErrMissingKey=False, VaultGrace=0)


def _canon_service(service: dict, task: dict | None, group: dict, job: dict) -> None:
    for key, value in _api_service_blank().items():
        service.setdefault(key, value)
    if not service["Name"]:
        parts = [job["Name"], group["Name"]] + ([task["Name"]] if task is not None else [])
        service["Name"] = "-".join(parts)
    service["AddressMode"] = service["AddressMode"] or "auto"
    service["OnUpdate"] = service["OnUpdate"] or "require_healthy"
    service["Provider"] = service["Provider"] or "consul"
    service["Cluster"] = service["Cluster"] or "default"
    for key in ("Meta", "CanaryMeta", "TaggedAddresses"):
        if not service[key]:
            service[key] = None
    if service["Weights"] is not None:
        for key in ("Passing", "Warning"):
            if (service["Weights"].get(key) or 0) <= 0:
                service["Weights"][key] = 1
    for check in service["Checks"] or []:
        for key, value in _api_check_blank().items():
            check.setdefault(key, value)
        check["CheckRestart"] = _merge_check_restart(service["CheckRestart"], check["CheckRestart"])
        for key in ("SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning"):
            check[key] = max(check[key] or 0, 0)
        check["OnUpdate"] = check["OnUpdate"] or service["OnUpdate"]


def _merge_check_restart(service_level: dict | None, check_level: dict | None) -> dict | None:
    if service_level is None:
        merged = copy.deepcopy(check_level)
    else:
        merged = copy.deepcopy(service_level)
        if check_level:
            if (check_level.get("Limit") or 0) > 0:
                merged["Limit"] = check_level["Limit"]
            if check_level.get("Grace") is not None:
                merged["Grace"] = check_level["Grace"]
            if check_level.get("IgnoreWarnings"):
                merged["IgnoreWarnings"] = True
    if merged is not None:
        _setdefault(merged, Limit=0, Grace=SECOND, IgnoreWarnings=False)
    return merged


# ---------------------------------------------------------------------------
# structs.Job: what register stores and GET /v1/job/:id returns
# ---------------------------------------------------------------------------

_STRUCT_JOB_KEYS = (
    "Stop", "Region", "Namespace", "ID", "ParentID", "Name", "Type", "Priority", "AllAtOnce", "Datacenters",
    "NodePool", "Constraints", "Affinities", "Spreads", "TaskGroups", "Update", "Multiregion", "Periodic",
    "ParameterizedJob", "Dispatched", "DispatchIdempotencyToken", "Payload", "Meta", "ConsulNamespace",
    "VaultNamespace", "NomadTokenID", "Status", "StatusDescription", "Stable", "Version", "SubmitTime",
    "CreateIndex", "ModifyIndex", "JobModifyIndex", "UI", "VersionTag",
)
_STRUCT_UPDATE_KEYS = (
    "Stagger", "MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline", "ProgressDeadline",
    "AutoRevert", "AutoPromote", "Canary",
)
_STRUCT_CHECK_COPY = (
    "Name", "Type", "Command", "Args", "Path", "Protocol", "PortLabel", "Expose", "AddressMode", "Interval",
    "Timeout", "InitialStatus", "Notes", "TLSServerName", "TLSSkipVerify", "Method", "Header", "CheckRestart",
    "GRPCService", "GRPCUseTLS", "TaskName", "SuccessBeforePassing", "FailuresBeforeCritical",
    "FailuresBeforeWarning", "Body", "OnUpdate",
)


def _pick(source: dict | None, keys: Iterable[str]) -> dict | None:
    if source is None:
        return None
    return {key: copy.deepcopy(source.get(key)) for key in keys}


def _zero_update() -> dict:
    return {"Stagger": 0, "MaxParallel": 0, "HealthCheck": "", "MinHealthyTime": 0, "HealthyDeadline": 0,
            "ProgressDeadline": 0, "AutoRevert": False, "AutoPromote": False, "Canary": 0}


def to_struct(api_job: dict, *, namespace: str = "default", region: str = "global") -> dict:
    """The stored ``structs.Job`` for a submitted api job, as ``GET /v1/job/:id`` shows it.

    ``namespace`` and ``region`` are the request's (query) values; like Nomad, a job that
    names its own namespace or a non-global region keeps it unless the request differs
    from the defaults. Server-assigned fields (Status, Version, indexes, SubmitTime)
    are left at their zero values for the caller to fill.
    """
    api = canonicalize_api(copy.deepcopy(api_job))
    job = _blank(_STRUCT_JOB_KEYS, Dispatched=False, DispatchIdempotencyToken="", ConsulNamespace="",
                 NomadTokenID="", Status="", StatusDescription="", Stable=False, Version=0, SubmitTime=0,
                 CreateIndex=0, ModifyIndex=0, JobModifyIndex=0, ParentID=api["ParentID"])
    for key in ("Stop", "ID", "Name", "Type", "Priority", "AllAtOnce", "Datacenters", "NodePool", "Payload",
                "Meta", "VaultNamespace", "UI"):
        job[key] = copy.deepcopy(api[key])
    job["Region"] = _job_region(api["Region"], region)
    job["Namespace"] = api["Namespace"] if namespace == "default" and api["Namespace"] else namespace
    job["Constraints"] = _constraints(api["Constraints"])
    job["Affinities"] = _affinities(api["Affinities"])
    job["Spreads"] = _spreads(api["Spreads"])
    job["Update"] = _zero_update()
    if api["Update"] and (api["Update"].get("MaxParallel") or 0) > 0:
        job["Update"]["Stagger"] = api["Update"].get("Stagger") or 0
        job["Update"]["MaxParallel"] = api["Update"]["MaxParallel"]
    job["Periodic"] = _periodic(api["Periodic"])
    job["ParameterizedJob"] = _pick(api["ParameterizedJob"], ("Payload", "MetaRequired", "MetaOptional"))
    job["TaskGroups"] = [_struct_group(group, api) for group in api["TaskGroups"] or []] or None
    _canon_struct_job(job)
    _implied_constraints(job)
    return job


def _job_region(job_region: str, request_region: str) -> str:
    if request_region == "global" and job_region and job_region != "global":
        return job_region
    return request_region


def _constraints(items: list[dict] | None) -> list[dict] | None:
    if items is None:
        return None
    return [{"LTarget": item.get("LTarget", ""), "RTarget": item.get("RTarget", ""),
             "Operand": item.get("Operand", "")} for item in items]


def _affinities(items: list[dict] | None) -> list[dict] | None:
    if items is None:
        return None
    return [{"LTarget": item.get("LTarget", ""), "RTarget": item.get("RTarget", ""),
             "Operand": item.get("Operand", ""), "Weight": item.get("Weight")} for item in items]


def _spreads(items: list[dict] | None) -> list[dict] | None:
    if not items:
        return None
    return [{"Attribute": item.get("Attribute", ""), "Weight": item.get("Weight"),
             "SpreadTarget": [{"Value": target.get("Value", ""), "Percent": target.get("Percent", 0)}
                              for target in item.get("SpreadTarget") or []] or None}
            for item in items]


def _periodic(periodic: dict | None) -> dict | None:
    if periodic is None:
        return None
    return {"Enabled": periodic["Enabled"], "Spec": periodic.get("Spec") or "", "Specs": periodic.get("Specs"),
            "SpecType": periodic["SpecType"], "ProhibitOverlap": periodic["ProhibitOverlap"],
            "TimeZone": periodic["TimeZone"]}


def _struct_group(group: dict, api_job: dict) -> dict:
    out = {
        "Name": group["Name"], "Count": group["Count"], "Update": None, "Migrate": None,
        "Constraints": _constraints(group["Constraints"]), "Scaling": None,
        "RestartPolicy": _struct_restart(group["RestartPolicy"]), "Disconnect": copy.deepcopy(group["Disconnect"]),
        "Tasks": None, "EphemeralDisk": _pick(group["EphemeralDisk"], ("Sticky", "SizeMB", "Migrate")),
        "Meta": copy.deepcopy(group["Meta"]),
        "ReschedulePolicy": _pick(group["ReschedulePolicy"], ("Attempts", "Interval", "Delay", "DelayFunction",
                                                              "MaxDelay", "Unlimited")),
        "Affinities": _affinities(group["Affinities"]), "Spreads": _spreads(group["Spreads"]),
        "Networks": _struct_networks(group["Networks"]),
        "Consul": _pick(group["Consul"], ("Namespace", "Cluster", "Partition")),
        "Services": _struct_services(group["Services"], group_level=True), "Volumes": None,
        "ShutdownDelay": group["ShutdownDelay"], "MaxRunDuration": group["MaxRunDuration"],
        "StopAfterClientDisconnect": group["StopAfterClientDisconnect"],
        "MaxClientDisconnect": group["MaxClientDisconnect"],
        "PreventRescheduleOnLost": bool(group["PreventRescheduleOnLost"]),
    }
    if group["Migrate"] is not None:
        out["Migrate"] = _pick(group["Migrate"], ("MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline"))
    if group["Update"] is not None:
        out["Update"] = {key: group["Update"].get(key) for key in _STRUCT_UPDATE_KEYS}
        out["Update"]["AutoRevert"] = bool(out["Update"]["AutoRevert"])
        out["Update"]["AutoPromote"] = bool(out["Update"]["AutoPromote"])
    out["Tasks"] = [_struct_task(task) for task in group["Tasks"] or []] or None
    return out


def _struct_restart(policy: dict | None) -> dict | None:
    return _pick(policy, ("Attempts", "Interval", "Delay", "Mode", "RenderTemplates"))


def _struct_networks(networks: list[dict] | None) -> list[dict] | None:
    if not networks:
        return None
    out = []
    for network in networks:
        item: dict[str, Any] = {"Mode": network.get("Mode") or "", "Device": "", "CIDR": network.get("CIDR") or "",
                                "IP": network.get("IP") or ""}
        if network.get("Hostname"):
            item["Hostname"] = network["Hostname"]  # omitempty
        item.update({
            "MBits": network.get("MBits") or 0,
            "DNS": _pick(network.get("DNS"), ("Servers", "Searches", "Options")),
            "ReservedPorts": _struct_ports(network.get("ReservedPorts")),
            "DynamicPorts": _struct_ports(network.get("DynamicPorts")),
            "CNI": copy.deepcopy(network.get("CNI")),
        })
        out.append(item)
    return out


def _struct_ports(ports: list[dict] | None) -> list[dict] | None:
    if not ports:
        return None
    return [{"Label": port.get("Label", ""), "Value": port.get("Value") or 0, "To": port.get("To") or 0,
             "HostNetwork": port.get("HostNetwork") or "", "IgnoreCollision": bool(port.get("IgnoreCollision"))}
            for port in ports]


def _struct_services(services: list[dict] | None, group_level: bool) -> list[dict] | None:
    if not services:
        return None
    return [_struct_service(service, group_level) for service in services]


def _struct_service(service: dict, group_level: bool) -> dict:
    out = {
        "Name": service["Name"], "TaskName": service["TaskName"], "PortLabel": service["PortLabel"],
        "AddressMode": service["AddressMode"], "Address": service["Address"],
        "EnableTagOverride": service["EnableTagOverride"], "Tags": copy.deepcopy(service["Tags"]),
        "CanaryTags": copy.deepcopy(service["CanaryTags"]), "Checks": None, "Connect": None,
        "Meta": copy.deepcopy(service["Meta"]), "CanaryMeta": copy.deepcopy(service["CanaryMeta"]),
        "Weights": copy.deepcopy(service["Weights"]), "TaggedAddresses": copy.deepcopy(service["TaggedAddresses"]),
        "Namespace": "", "OnUpdate": service["OnUpdate"], "Provider": service["Provider"],
        "Cluster": service["Cluster"], "Identity": copy.deepcopy(service["Identity"]), "Kind": service["Kind"],
    }
    checks = []
    for check in service["Checks"] or []:
        item = {key: copy.deepcopy(check.get(key)) for key in _STRUCT_CHECK_COPY}
        item["OnUpdate"] = check.get("OnUpdate") or service["OnUpdate"]
        item["TaskName"] = check.get("TaskName", "") if group_level else ""
        checks.append(item)
    out["Checks"] = checks or None
    return out


def _struct_task(task: dict) -> dict:
    resources = task["Resources"]
    return {
        "Name": task["Name"], "Driver": task["Driver"], "User": task["User"],
        "Config": copy.deepcopy(task["Config"]), "Env": copy.deepcopy(task["Env"]),
        "Services": _struct_services(task["Services"], group_level=False), "Vault": None, "Secrets": None,
        "Consul": None, "Templates": _struct_templates(task["Templates"]),
        "Constraints": _constraints(task["Constraints"]), "Affinities": _affinities(task["Affinities"]),
        "Resources": _struct_resources(resources), "RestartPolicy": _struct_restart(task["RestartPolicy"]),
        "DispatchPayload": _pick(task["DispatchPayload"], ("File",)),
        "Lifecycle": _pick(task["Lifecycle"], ("Hook", "Sidecar")), "Meta": copy.deepcopy(task["Meta"]),
        "KillTimeout": task["KillTimeout"],
        "LogConfig": {"MaxFiles": task["LogConfig"]["MaxFiles"] or 0,
                      "MaxFileSizeMB": task["LogConfig"]["MaxFileSizeMB"] or 0,
                      "Disabled": bool(task["LogConfig"]["Disabled"])},
        "Artifacts": _struct_artifacts(task["Artifacts"]), "Leader": task["Leader"],
        "ShutdownDelay": task["ShutdownDelay"] or 0, "VolumeMounts": None, "ScalingPolicies": None,
        "KillSignal": task["KillSignal"], "Kind": task["Kind"], "CSIPluginConfig": None, "Identity": None,
        "Identities": None, "Actions": None, "Schedule": None,
    }


def _struct_resources(resources: dict) -> dict:
    return {
        "CPU": resources["CPU"], "Cores": resources.get("Cores") or 0, "MemoryMB": resources["MemoryMB"],
        "MemoryMaxMB": resources.get("MemoryMaxMB") or 0, "DiskMB": 0, "IOPS": resources.get("IOPS") or 0,
        "Networks": _struct_networks(resources.get("Networks")), "Devices": None, "NUMA": None,
        "SecretsMB": resources.get("SecretsMB") or 0,
    }


def _struct_templates(templates: list[dict] | None) -> list[dict] | None:
    if not templates:
        return None
    keys = ("SourcePath", "DestPath", "EmbeddedTmpl", "ChangeMode", "ChangeSignal", "ChangeScript", "Once",
            "Splay", "Perms", "Uid", "Gid", "LeftDelim", "RightDelim", "Envvars", "VaultGrace", "Wait",
            "ErrMissingKey")
    out = []
    for template in templates:
        item = {key: copy.deepcopy(template.get(key)) for key in keys}
        item["Once"] = bool(item["Once"])
        if item["ChangeScript"] is not None:
            item["ChangeScript"].setdefault("RunOnFirstRender", False)
        out.append(item)
    return out


def _struct_artifacts(artifacts: list[dict] | None) -> list[dict] | None:
    if not artifacts:
        return None
    keys = ("GetterSource", "GetterOptions", "GetterHeaders", "GetterMode", "GetterInsecure", "RelativeDest", "Chown")
    return [{key: copy.deepcopy(artifact.get(key)) for key in keys} for artifact in artifacts]


def _canon_struct_job(job: dict) -> None:
    """structs ``Job.Canonicalize`` plus the canonicalizer and node-pool mutators."""
    if not job["Meta"]:
        job["Meta"] = None
    job["Namespace"] = job["Namespace"] or "default"
    if not job["Datacenters"]:
        job["Datacenters"] = ["*"]
    if not job["Priority"]:
        job["Priority"] = 50
    job["NodePool"] = job["NodePool"] or "default"
    if job["ParameterizedJob"] is not None and not job["ParameterizedJob"]["Payload"]:
        job["ParameterizedJob"]["Payload"] = "optional"
    for group in job["TaskGroups"] or []:
        _canon_struct_group(group, job)


def _canon_struct_group(group: dict, job: dict) -> None:
    if not group["Meta"]:
        group["Meta"] = None
    if group["RestartPolicy"] is None:
        group["RestartPolicy"] = _struct_restart(_default_restart(job["Type"]))
    if group["ReschedulePolicy"] is None and job["Type"] not in ("system", "sysbatch"):
        group["ReschedulePolicy"] = _default_reschedule(job["Type"])
    if group["Migrate"] is None and job["Type"] == "service":
        group["Migrate"] = {"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * SECOND,
                            "HealthyDeadline": 5 * MINUTE}
    if group["EphemeralDisk"] is None:
        group["EphemeralDisk"] = {"Sticky": False, "SizeMB": 300, "Migrate": False}
    if job["Type"] == "system" and group["Count"] == 0:
        group["Count"] = 1
    for service in group["Services"] or []:
        _canon_struct_service(service, job, group, "group")
    for network in group["Networks"] or []:
        _canon_struct_network(network)
    for task in group["Tasks"] or []:
        _canon_struct_task(task, group, job)


def _canon_struct_network(network: dict) -> None:
    for key in ("ReservedPorts", "DynamicPorts"):
        for port in network[key] or []:
            port["HostNetwork"] = port["HostNetwork"] or "default"
        network[key] = network[key] or None


def _canon_struct_service(service: dict, job: dict, group: dict, task_name: str) -> None:
    for key in ("Tags", "CanaryTags", "Checks", "TaggedAddresses"):
        service[key] = service[key] or None
    if not service["TaskName"] and task_name != "group":
        service["TaskName"] = task_name
    service["Name"] = _replace_env(service["Name"], {
        "JOB": job["Name"], "TASKGROUP": group["Name"], "TASK": task_name,
        "BASE": f"{job['Name']}-{group['Name']}-{task_name}",
    })
    for check in service["Checks"] or []:
        check["Args"] = check["Args"] or None
        check["Header"] = check["Header"] or None
        check["Name"] = check["Name"] or f'service: "{service["Name"]}" check'
        if not check["TaskName"] and service["TaskName"] != "group":
            check["TaskName"] = service["TaskName"]
        check["OnUpdate"] = check["OnUpdate"] or "require_healthy"
    service["Provider"] = service["Provider"] or "consul"
    if service["Provider"] == "consul" and not service["Namespace"]:
        service["Namespace"] = "default"
    elif service["Provider"] == "nomad":
        service["Namespace"] = job["Namespace"]


def _replace_env(text: str, env: dict[str, str]) -> str:
    """helper/args.ReplaceEnv: ``${NAME}`` becomes env[NAME] when NAME is known."""
    return re.sub(r"\$\{([^}]+)\}", lambda match: env.get(match.group(1), match.group(0)), text)


def _canon_struct_task(task: dict, group: dict, job: dict) -> None:
    for key in ("Meta", "Config", "Env"):
        task[key] = task[key] or None
    for service in task["Services"] or []:
        _canon_struct_service(service, job, group, task["Name"])
    for network in task["Resources"]["Networks"] or []:
        _canon_struct_network(network)
    if task["RestartPolicy"] is None:
        task["RestartPolicy"] = copy.deepcopy(group["RestartPolicy"])
    task["KillTimeout"] = task["KillTimeout"] or 5 * SECOND
    for template in task["Templates"] or []:
        template["ChangeSignal"] = (template["ChangeSignal"] or "").upper()


def _implied_constraints(job: dict) -> None:
    """The ``constraints`` admission mutator for signals and service discovery."""
    for group in job["TaskGroups"] or []:
        signals = sorted({signal for task in group["Tasks"] or [] for signal in _task_signals(task)})
        if signals:
            _add_constraint(group, {"LTarget": "${attr.os.signals}", "RTarget": ",".join(signals),
                                    "Operand": "set_contains"}, full_match=True)
        services = list(group["Services"] or []) + [s for task in group["Tasks"] or [] for s in task["Services"] or []]
        if any(service["Provider"] == "nomad" for service in services):
            _add_constraint(group, {"LTarget": "${attr.nomad.service_discovery}", "RTarget": "true",
                                    "Operand": "="}, full_match=True)
        if any(service["Provider"] == "nomad" and service["Checks"] for service in services):
            _add_constraint(group, {"LTarget": "${attr.nomad.version}", "RTarget": ">= 1.4.0",
                                    "Operand": "semver"}, full_match=True)
        for cluster in dict.fromkeys(s["Cluster"] or "default" for s in services if s["Provider"] == "consul"):
            if cluster == "default":
                constraint = {"LTarget": "${attr.consul.version}", "RTarget": ">= 1.7.0", "Operand": "semver"}
            else:
                constraint = {"LTarget": f"${{attr.consul.{cluster}.version}}", "RTarget": ">= 1.8.0",
                              "Operand": "semver"}
            _add_constraint(group, constraint, full_match=False)


def _task_signals(task: dict) -> list[str]:
    signals = [task["KillSignal"]] if task["KillSignal"] else []
    signals += [t["ChangeSignal"] for t in task["Templates"] or [] if t["ChangeMode"] == "signal"]
    return signals


def _add_constraint(group: dict, constraint: dict, full_match: bool) -> None:
    for existing in group["Constraints"] or []:
        if existing == constraint if full_match else existing["LTarget"] == constraint["LTarget"]:
            return
    group["Constraints"] = (group["Constraints"] or []) + [constraint]


def job_meta_merged(job: dict, group: dict | str, task: dict | str) -> dict:
    """Job meta < group meta < task meta, like ``Job.CombinedTaskMeta``."""
    if isinstance(group, str):
        group = next((g for g in job.get("TaskGroups") or [] if g.get("Name") == group), {})
    if isinstance(task, str):
        task = next((t for t in group.get("Tasks") or [] if t.get("Name") == task), {})
    merged: dict = {}
    for source in (job, group, task):
        merged.update(source.get("Meta") or {})
    return merged


# ---------------------------------------------------------------------------
# structs Validate
# ---------------------------------------------------------------------------

_JOB_TYPES = ("_core", "service", "batch", "system", "sysbatch")


def validate(struct_job: dict) -> None:
    """Admission validation of a ``structs.Job``; raises JobspecError with Nomad's text."""
    errors = _MultiError()
    errors.merge(_validate_job(struct_job))
    job_type = struct_job.get("Type")
    if job_type == "_core":
        errors.add("job type cannot be core")
    if struct_job.get("Payload"):
        errors.add("job can't be submitted with a payload, only dispatched")
    priority = struct_job.get("Priority") or 0
    if not 1 <= priority <= 100:
        errors.add("job priority must be between [1, 100]")
    if errors.errors:
        raise JobspecError(str(errors))


def _validate_job(job: dict) -> _MultiError | None:
    err = _MultiError()
    if not job.get("Region"):
        err.add("Missing job region")
    if not job.get("ID"):
        err.add("Missing job ID")
    elif " " in job["ID"]:
        err.add("Job ID contains a space")
    elif "\0" in job["ID"]:
        err.add("Job ID contains a null character")
    if not job.get("Name"):
        err.add("Missing job name")
    elif "\0" in job["Name"]:
        err.add("Job Name contains a null character")
    if not job.get("Namespace"):
        err.add("Job must be in a namespace")
    job_type = job.get("Type") or ""
    if not job_type:
        err.add("Missing job type")
    elif job_type not in _JOB_TYPES:
        err.add(f"Invalid job type: {_go_q(job_type)}")
    if not job.get("Datacenters"):
        err.add("Missing job datacenters")
    for datacenter in job.get("Datacenters") or []:
        if datacenter == "":
            err.add("Job datacenter must be non-empty string")
    groups = job.get("TaskGroups") or []
    if not groups:
        err.add("Missing job task groups")
    for index, constraint in enumerate(job.get("Constraints") or [], 1):
        if (problem := _validate_constraint(constraint)) is not None:
            err.add(f"Constraint {index} validation failed: {problem}")
    _validate_group_names(groups, job_type, err)
    for group in groups:
        if (problem := _validate_group(group, job)) is not None:
            err.add(f"Task group {group.get('Name', '')} validation failed: {problem}")
    _validate_periodic_and_parameterized(job, err)
    return err.or_none()


def _go_q(text: str) -> str:
    """Go's %q for the plain strings used in messages."""
    return json.dumps(text, ensure_ascii=False)


def _validate_group_names(groups: list[dict], job_type: str, err: _MultiError) -> None:
    seen: dict[str, int] = {}
    for index, group in enumerate(groups, 1):
        name = group.get("Name") or ""
        if not name:
            err.add(f"Job task group {index} missing name")
        elif name in seen:
            err.add(f"Job task group {index} redefines '{name}' from group {seen[name]}")
        else:
            seen[name] = index
        if (group.get("ShutdownDelay") or 0) < 0:
            err.add("ShutdownDelay must be a positive value")
        if job_type == "system" and (group.get("Count") or 0) > 1:
            err.add(f"Job task group {name} has count {group['Count']}. Count cannot exceed 1 with system scheduler")


def _validate_periodic_and_parameterized(job: dict, err: _MultiError) -> None:
    periodic = job.get("Periodic")
    if periodic and periodic.get("Enabled"):
        if job.get("Type") not in ("batch", "sysbatch"):
            err.add('Periodic can only be used with "batch" or "sysbatch" scheduler')
        if not periodic.get("Spec") and not periodic.get("Specs"):
            err.add(_single("Must specify a spec"))
    parameterized = job.get("ParameterizedJob") and not job.get("Dispatched")
    if parameterized and job.get("Type") not in ("batch", "sysbatch"):
        err.add('Parameterized job can only be used with "batch" or "sysbatch" scheduler')


def _single(text: str) -> _MultiError:
    err = _MultiError()
    err.add(text)
    return err


def _validate_constraint(constraint: dict) -> _MultiError | None:
    err = _MultiError()
    operand = constraint.get("Operand") or ""
    rtarget = constraint.get("RTarget") or ""
    if not operand:
        err.add("Missing constraint operand")
    requires_ltarget = True
    if operand == "distinct_hosts":
        requires_ltarget = False
    elif operand in ("set_contains_all", "set_contains_any", "set_contains"):
        if not rtarget:
            err.add("Set contains constraint requires an RTarget")
    elif operand == "distinct_property":
        if rtarget and (not rtarget.isdigit() or int(rtarget) < 1):
            err.add(f"Distinct Property must have an allowed count of 1 or greater: {rtarget} < 1"
                    if rtarget.isdigit() else f'Failed to convert RTarget "{rtarget}" to uint64')
    elif operand in ("is_set", "is_not_set"):
        if rtarget:
            err.add(f"Operator {_go_q(operand)} does not support an RTarget")
    elif operand in ("=", "==", "is", "!=", "not", "<", "<=", ">", ">="):
        if not rtarget:
            err.add(f"Operator {_go_q(operand)} requires an RTarget")
    elif operand not in ("regexp", "version", "semver"):
        err.add(f"Unknown constraint type {_go_q(operand)}")
    if requires_ltarget and not constraint.get("LTarget"):
        err.add("No LTarget provided but is required by constraint")
    return err.or_none()


def _validate_group(group: dict, job: dict) -> _MultiError | None:
    err = _MultiError()
    job_type = job.get("Type") or ""
    if not group.get("Name"):
        err.add("Missing task group name")
    if (group.get("Count") or 0) < 0:
        err.add("Task group count can't be negative")
    tasks = group.get("Tasks") or []
    if not tasks:
        err.add("Missing tasks for task group")
    for index, constraint in enumerate(group.get("Constraints") or [], 1):
        if (problem := _validate_constraint(constraint)) is not None:
            err.add(f"Constraint {index} validation failed: {problem}")
    _validate_group_policies(group, job_type, err)
    _validate_group_strategies(group, job_type, err)
    _validate_task_names(tasks, err)
    if (problem := _validate_services(group.get("Services") or [], group.get("Networks") or [], None)) is not None:
        err.add(f"Task group service validation failed: {problem}")
    for task in tasks:
        if (problem := _validate_task(task, group)) is not None:
            err.add(f"Task {task.get('Name', '')} validation failed: {problem}")
    return err.or_none()


def _validate_group_policies(group: dict, job_type: str, err: _MultiError) -> None:
    name = group.get("Name", "")
    restart = group.get("RestartPolicy")
    if restart is None:
        err.add(f"Task Group {name} should have a restart policy")
    else:
        err.add(_validate_restart(restart))
    reschedule = group.get("ReschedulePolicy")
    if job_type == "system":
        if reschedule is not None:
            err.add("System jobs should not have a reschedule policy")
    elif reschedule is None:
        err.add(f"Task Group {name} should have a reschedule policy")
    else:
        err.add(_validate_reschedule(reschedule))
    disk = group.get("EphemeralDisk")
    if disk is None:
        err.add(f"Task Group {name} should have an ephemeral disk object")
    elif (disk.get("SizeMB") or 0) < 10:
        err.add(f"minimum DiskMB value is 10; got {disk.get('SizeMB') or 0}")


def _validate_group_strategies(group: dict, job_type: str, err: _MultiError) -> None:
    update = group.get("Update")
    if update is not None:
        if job_type not in ("service", "system"):
            err.add(f"Job type {_go_q(job_type)} does not allow update block")
        err.add(_validate_update(update))
    migrate = group.get("Migrate")
    if job_type == "service":
        if migrate is not None:
            err.add(_validate_migrate(migrate))
    elif migrate is not None:
        err.add(f"Job type {_go_q(job_type)} does not allow migrate block")


def _validate_task_names(tasks: list[dict], err: _MultiError) -> None:
    seen: dict[str, int] = {}
    leaders = 0
    for index, task in enumerate(tasks, 1):
        name = task.get("Name") or ""
        if not name:
            err.add(f"Task {index} missing name")
        elif name in seen:
            err.add(f"Task {index} redefines '{name}' from task {seen[name]}")
        else:
            seen[name] = index
        leaders += bool(task.get("Leader"))
    if leaders > 1:
        err.add("Only one task may be marked as leader")


def _validate_update(update: dict) -> _MultiError | None:
    err = _MultiError()
    health_check = update.get("HealthCheck") or ""
    max_parallel = update.get("MaxParallel") or 0
    canary = update.get("Canary") or 0
    min_healthy = update.get("MinHealthyTime") or 0
    deadline = update.get("HealthyDeadline") or 0
    progress = update.get("ProgressDeadline") or 0
    stagger = update.get("Stagger") or 0
    if health_check not in ("checks", "task_states", "manual"):
        err.add(f"Invalid health check given: {_go_q(health_check)}")
    if max_parallel < 0:
        err.add(f"Max parallel can not be less than zero: {max_parallel} < 0")
    if canary < 0:
        err.add(f"Canary count can not be less than zero: {canary} < 0")
    if canary == 0 and update.get("AutoPromote"):
        err.add("Auto Promote requires a Canary count greater than zero")
    if min_healthy < 0:
        err.add(f"Minimum healthy time may not be less than zero: {format_duration(min_healthy)}")
    if deadline <= 0:
        err.add(f"Healthy deadline must be greater than zero: {format_duration(deadline)}")
    if progress < 0:
        err.add(f"Progress deadline must be zero or greater: {format_duration(progress)}")
    if min_healthy >= deadline:
        err.add("Minimum healthy time must be less than healthy deadline: "
                f"{format_duration(min_healthy)} > {format_duration(deadline)}")
    if progress != 0 and deadline >= progress:
        err.add("Healthy deadline must be less than progress deadline: "
                f"{format_duration(deadline)} > {format_duration(progress)}")
    if stagger <= 0:
        err.add(f"Stagger must be greater than zero: {format_duration(stagger)}")
    return err.or_none()


def _validate_migrate(migrate: dict) -> _MultiError | None:
    err = _MultiError()
    max_parallel = migrate.get("MaxParallel") or 0
    health_check = migrate.get("HealthCheck") or ""
    min_healthy = migrate.get("MinHealthyTime") or 0
    deadline = migrate.get("HealthyDeadline") or 0
    if max_parallel < 0:
        err.add(f"MaxParallel must be >= 0 but found {max_parallel}")
    if health_check == "" and max_parallel > 0:
        err.add("Missing HealthCheck")
    elif health_check not in ("", "checks", "task_states"):
        err.add(f"Invalid HealthCheck: {_go_q(health_check)}")
    if min_healthy < 0:
        err.add(f"MinHealthyTime is {format_duration(min_healthy)} and must be >= 0")
    if deadline < 0:
        err.add(f"HealthyDeadline is {format_duration(deadline)} and must be >= 0")
    if min_healthy > deadline:
        err.add("MinHealthyTime must be less than HealthyDeadline")
    return err.or_none()


def _validate_restart(policy: dict) -> _MultiError | None:
    err = _MultiError()
    mode = policy.get("Mode") or ""
    attempts = policy.get("Attempts") or 0
    interval = policy.get("Interval") or 0
    delay = policy.get("Delay") or 0
    if mode not in ("delay", "fail"):
        err.add(f"Unsupported restart mode: {_go_q(mode)}")
    if attempts == 0 and mode != "fail":
        err.add(f"Restart policy {_go_q(mode)} with {attempts} attempts is ambiguous")
    if interval < 5 * SECOND:
        err.add(f"Interval can not be less than 5s (got {format_duration(interval)})")
    if attempts * delay > interval:
        err.add(f"Nomad can't restart the TaskGroup {attempts} times in an interval of "
                f"{format_duration(interval)} with a delay of {format_duration(delay)}")
    return err.or_none()


def _validate_reschedule(policy: dict) -> _MultiError | None:
    attempts = policy.get("Attempts") or 0
    unlimited = bool(policy.get("Unlimited"))
    if not (attempts > 0 or unlimited):
        return None
    err = _MultiError()
    interval = policy.get("Interval") or 0
    delay = policy.get("Delay") or 0
    max_delay = policy.get("MaxDelay") or 0
    function = policy.get("DelayFunction") or ""
    if attempts > 0:
        if interval <= 0:
            err.add("Interval must be a non zero value if Attempts > 0")
        if unlimited:
            err.add(f"Reschedule Policy with Attempts = {attempts}, Interval = {format_duration(interval)}, "
                    f"and Unlimited = {str(unlimited).lower()} is ambiguous")
            err.add("If Attempts >0, Unlimited cannot also be set to true")
    if delay < 5 * SECOND:
        err.add(f"Delay cannot be less than 5s (got {format_duration(delay)})")
    if function not in ("constant", "exponential", "fibonacci"):
        err.add(f'Invalid delay function {_go_q(function)}, must be one of ["constant" "exponential" "fibonacci"]')
    if function != "constant":
        if max_delay < 5 * SECOND:
            err.add(f"Max Delay cannot be less than 5s (got {format_duration(delay)})")
        if max_delay < delay:
            err.add(f"Max Delay cannot be less than Delay {format_duration(delay)} (got {format_duration(max_delay)})")
    if not unlimited and interval < 15 * SECOND:
        err.add(f"Interval cannot be less than 15s (got {format_duration(interval)})")
    return err.or_none()


def _validate_task(task: dict, group: dict) -> _MultiError | None:
    err = _MultiError()
    name = task.get("Name") or ""
    if not name:
        err.add("Missing task name")
    if "/" in name or "\\" in name:
        err.add("Task name cannot include slashes")
    elif "\0" in name:
        err.add("Task name cannot include null characters")
    if not task.get("Driver"):
        err.add("Missing task driver")
    if (task.get("KillTimeout") or 0) < 0:
        err.add("KillTimeout must be a positive value")
    if (task.get("ShutdownDelay") or 0) < 0:
        err.add("ShutdownDelay must be a positive value")
    resources = task.get("Resources")
    if resources is None:
        err.add("Missing task resources")
    else:
        err.add(_validate_resources(resources))
    logs = task.get("LogConfig")
    if logs is None:
        err.add("Missing Log Config")
    else:
        err.add(_validate_logs(logs, group.get("EphemeralDisk")))
    for index, constraint in enumerate(task.get("Constraints") or [], 1):
        if (problem := _validate_constraint(constraint)) is not None:
            err.add(f"Constraint {index} validation failed: {problem}")
    err.add(_validate_services(task.get("Services") or [], group.get("Networks") or [], task))
    return err.or_none()


def _validate_resources(resources: dict) -> _MultiError | None:
    err = _MultiError()
    cpu, cores = resources.get("CPU") or 0, resources.get("Cores") or 0
    memory, memory_max = resources.get("MemoryMB") or 0, resources.get("MemoryMaxMB") or 0
    if cores > 0 and cpu > 0:
        err.add("Task can only ask for 'cpu' or 'cores' resource, not both.")
    minimum = _MultiError()
    if cpu < 1 and cores == 0:
        minimum.add(f"minimum CPU value is 1; got {cpu}")
    if memory < 10:
        minimum.add(f"minimum MemoryMB value is 10; got {memory}")
    err.add(minimum.or_none())
    if (resources.get("DiskMB") or 0) > 0:
        err.add("Task can't ask for disk resources, they have to be specified at the task group level.")
    if memory_max != 0 and memory_max < memory:
        err.add(f"MemoryMaxMB value ({memory_max}) should be larger than MemoryMB value ({memory})")
    return err.or_none()


def _validate_logs(logs: dict, disk: dict | None) -> _MultiError | None:
    err = _MultiError()
    files, size = logs.get("MaxFiles") or 0, logs.get("MaxFileSizeMB") or 0
    if files < 1:
        err.add(f"minimum number of files is 1; got {files}")
    if size < 1:
        err.add(f"minimum file size is 1MB; got {size}")
    if disk is not None and (disk.get("SizeMB") or 0) <= files * size:
        err.add(f"log storage ({files * size} MB) must be less than requested disk capacity "
                f"({disk.get('SizeMB') or 0} MB)")
    return err.or_none()


def _port_labels(networks: list[dict]) -> set[str]:
    labels: set[str] = set()
    for network in networks[:1]:
        for key in ("ReservedPorts", "DynamicPorts"):
            labels.update(port.get("Label", "") for port in network.get(key) or [])
    return labels


def _validate_services(services: list[dict], networks: list[dict], task: dict | None) -> _MultiError | None:
    err = _MultiError()
    referenced: dict[str, set[str]] = {}
    known: set[str] = set()
    for index, service in enumerate(services):
        name = service.get("Name") or ""
        if (problem := _validate_service(service)) is not None:
            err.add(f"service[{index}] {_go_q(name)} validation failed: {problem}")
        if task is not None and service.get("AddressMode") == "alloc":
            err.add(f'service "{name}" cannot use address_mode="alloc", '
                    'only services defined in a "group" block can use this mode')
        if name + (service.get("PortLabel") or "") in known:
            err.add(f"service {_go_q(name)} is duplicate")
        known.add(name + (service.get("PortLabel") or ""))
        _collect_port_labels(service, referenced)
    labels = _port_labels(networks)
    if task is not None:
        for network in (task.get("Resources") or {}).get("Networks") or []:
            labels |= _port_labels([network])
    for label in sorted(referenced):
        if label not in labels:
            names = ", ".join(sorted(referenced[label]))
            err.add(f"port label {_go_q(label)} referenced by services {names} does not exist")
    return err.or_none()


def _collect_port_labels(service: dict, referenced: dict[str, set[str]]) -> None:
    name = service.get("Name") or ""
    port = service.get("PortLabel") or ""
    if port and not (service.get("AddressMode") == "driver" and port.isdigit()):
        referenced.setdefault(port, set()).add(name)
    for check in service.get("Checks") or []:
        if check.get("Type") not in ("http", "tcp", "grpc") or check.get("AddressMode") == "driver":
            continue
        effective = check.get("PortLabel") or port
        if effective:
            referenced.setdefault(effective, set()).add(name)


_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")


def _validate_service(service: dict) -> _MultiError | None:
    err = _MultiError()
    name = service.get("Name") or ""
    stripped = re.sub(r"\$\{[^}]+\}", "ENV-VAR", name)
    if not _SERVICE_NAME.match(stripped):
        err.add("Service name must be valid per RFC 1123 and can contain only alphanumeric characters or dashes "
                f"and must be no longer than 63 characters: {_go_q(name)}")
    mode = service.get("AddressMode") or ""
    if mode in ("host", "driver", "alloc"):
        if service.get("Address"):
            err.add('Service address_mode must be "auto" if address is set')
    elif mode not in ("", "auto"):
        err.add(f'Service address_mode must be "auto", "host", or "driver"; not {_go_q(mode)}')
    on_update = service.get("OnUpdate") or ""
    if on_update not in ("", "ignore", "require_healthy", "ignore_warnings"):
        err.add(f'Service on_update must be "require_healthy", "ignore_warnings", or "ignore"; not {_go_q(on_update)}')
    provider = service.get("Provider") or ""
    if provider not in ("consul", "nomad"):
        err.add(f'Service provider must be "consul", or "nomad"; not {_go_q(provider)}')
    else:
        _validate_checks(service, provider, err)
    return err.or_none()


def _validate_checks(service: dict, provider: str, err: _MultiError) -> None:
    for check in service.get("Checks") or []:
        name = check.get("Name") or ""
        if not service.get("PortLabel") and not check.get("PortLabel") and check.get("Type") in ("http", "tcp", "grpc"):
            err.add(f"Check {name} invalid: check requires a port but neither check nor service "
                    f"{_go_q(service.get('Name') or '')} have a port")
            continue
        allowed = ["grpc", "tcp", "http", "script"] if provider == "consul" else ["tcp", "http"]
        problem = _validate_check(check, allowed)
        if problem is not None:
            err.add(f"Check {name} invalid: {problem}" if provider == "consul" else problem)


def _validate_check(check: dict, allowed: list[str]) -> str | None:
    kind = (check.get("Type") or "").lower()
    if kind not in allowed:
        return f"invalid check type ({_go_q(kind)}), must be one of {', '.join(allowed)}"
    if kind == "http":
        path = check.get("Path") or ""
        if not path:
            return "http type must have http path"
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
            return "http type must have relative http path"
    if kind == "script" and not check.get("Command"):
        return "script type must have a valid script path"
    interval, timeout = check.get("Interval") or 0, check.get("Timeout") or 0
    if interval == 0:
        return "missing required value interval. Interval cannot be less than 1s"
    if interval < SECOND:
        return f"interval ({format_duration(interval)}) cannot be lower than 1s"
    if timeout == 0:
        return "missing required value timeout. Timeout cannot be less than 1s"
    if timeout < SECOND:
        return f"timeout ({format_duration(timeout)}) is lower than required minimum timeout 1s"
    status = check.get("InitialStatus") or ""
    if status not in ("", "passing", "warning", "critical"):
        return f'invalid initial check state ({status}), must be one of "passing", "warning", "critical" or empty'
    return None
