"""Source outline: positions for diagnostics and HCL-style syntax errors.

python-hcl2 gives values without positions, so the source is parsed with its grammar
token by token, to record where every argument and block is and to explain a syntax
error the way HCL would; the tree of that one parse then gives python-hcl2's values.
``_lalr`` runs that parse, and Lark's own interactive parser explains a syntax error;
``_hclvalues`` gives the values.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, field

import hcl2
from hcl2.parser import parser as _hcl_parser
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from ._errors import Diag, DiagError, Range
from ._hclvalues import OPTIONS, values
from ._lalr import FastParser, Retry

_NAME_TOKENS = {"NAME", "IN", "FOR", "IF", "FOR_EACH", "ELSE", "ENDIF", "ENDFOR", "NULL", "TRUE", "FALSE"}
_OPENERS = {
    "LBRACE": "brace",
    "LSQB": "bracket",
    "LPAR": "paren",
    "INTERP_START": "interp",
    "DIRECTIVE_START": "interp",
}
_CLOSERS = {"RBRACE", "RSQB", "RPAR"}
_OPERATORS = {
    "DOUBLE_EQ",
    "NEQ",
    "LT",
    "GT",
    "LEQ",
    "GEQ",
    "MINUS",
    "ASTERISK",
    "SLASH",
    "PERCENT",
    "DOUBLE_AMP",
    "DOUBLE_PIPE",
    "PLUS",
    "NOT",
    "QMARK",
    "EQ",
    "COLON",
}
# After these tokens an expression still needs an operand.
_EXPECT_OPERAND = _OPERATORS | {
    "COMMA",
    "LSQB",
    "LPAR",
    "LBRACE",
    "INTERP_START",
    "DIRECTIVE_START",
    "FOR_OBJECT_ARROW",
    "DOT",
}


def _start(tok: Token) -> tuple[int, int]:
    """A token's line and column, which Lark types as optional: every token here has them
    (the lexers set them, and the tokens made here copy them)."""
    line, col = tok.line, tok.column
    assert line is not None and col is not None, f"{tok.type} token without a position"
    return line, col


def _token_range(tok: Token) -> Range:
    line, col = _start(tok)
    if tok.type == "NL_OR_COMMENT":
        # An HCL newline (or line comment) token ends at column 1 of the next line.
        return Range(line, col, line + 1, 1)
    if tok.type in _OPERATORS:
        # python-hcl2 folds leading blanks and continuation newlines into operators.
        value = str(tok.value)
        newline = value.rfind("\n")
        if newline >= 0:
            line, col, value = line + value[: newline + 1].count("\n"), 1, value[newline + 1 :]
        col += len(value) - len(value.lstrip(" \t"))
    return Range(line, col, tok.end_line or line, tok.end_column or col + 1)


@dataclass
class Node:
    """One argument or block of the source, or a body (the file or a block's content)."""

    kind: str
    name: str = ""
    name_range: Range | None = None
    def_range: Range | None = None
    label_ranges: list[Range] = field(default_factory=list)
    open_brace: Range | None = None
    value_start: Range | None = None
    children: list[Node] = field(default_factory=list)


@dataclass
class _Frame:
    body: Node
    phase: str = "start"
    head: Node | None = None
    label_start: Range | None = None
    in_label: bool = False
    nesting: list[tuple[str, Token]] = field(default_factory=list)  # what is open, and its token
    last: Token | None = None
    value_token: Token | None = None  # the token head.value_start is the range of
    attrs: dict[str, Node] = field(default_factory=dict)  # the body's arguments by name


class _Outliner:
    """Follows the token stream to build an outline and explain syntax errors like HCL."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = Node("body")
        self.frames = [_Frame(self.root)]

    # -- token handling ---------------------------------------------------
    def feed(self, tok: Token) -> None:
        """Advance on a token the parser accepted; phases: start, header, value, block."""
        frame = self.frames[-1]
        _Outliner._HANDLERS[frame.phase](self, frame, tok)

    def _on_start(self, frame: _Frame, tok: Token) -> None:
        if tok.type == "RBRACE":
            self._close_body()
        elif tok.type in _NAME_TOKENS:
            rng = _token_range(tok)
            frame.head = Node("block", str(tok.value), rng, rng)
            frame.phase = "header"

    def _on_header(self, frame: _Frame, tok: Token) -> None:
        head = frame.head
        assert head is not None
        if frame.in_label:
            if tok.type == "DBLQUOTE":
                assert frame.label_start is not None
                end = _token_range(tok)
                start = frame.label_start
                head.label_ranges.append(Range(start.line, start.col, end.end_line, end.end_col))
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
            raise DiagError([self._header_diag(frame, tok)], syntax=True)

    def _start_attribute(self, frame: _Frame, head: Node) -> None:
        head.kind = "attr"
        sibling = frame.attrs.get(head.name)
        if sibling is not None:
            raise DiagError(
                [
                    Diag(
                        "Attribute redefined",
                        f'The argument "{head.name}" was already set at {sibling.name_range}. '
                        "Each argument may be set only once.",
                        head.name_range,
                    )
                ],
                syntax=True,
            )
        frame.attrs[head.name] = head
        frame.body.children.append(head)
        frame.phase, frame.nesting, frame.last = "value", [], None

    def _open_block(self, frame: _Frame, head: Node, tok: Token) -> None:
        end = head.label_ranges[-1] if head.label_ranges else head.name_range
        assert head.name_range is not None and end is not None
        head.def_range = Range(head.name_range.line, head.name_range.col, end.end_line, end.end_col)
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
            nesting.append(("string", tok))
        elif tok.type in _OPENERS:
            nesting.append((_OPENERS[tok.type], tok))
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
            frame.nesting.append(("interp", tok))
        self._extend(frame, tok)

    def _on_block(self, frame: _Frame, tok: Token) -> None:
        # The phase of a body after one of its blocks was closed.
        if tok.type == "NL_OR_COMMENT":
            frame.phase = "start"
        elif tok.type == "RBRACE":
            self._close_body()
        else:
            raise DiagError(
                [
                    Diag(
                        "Missing newline after block definition",
                        "A block definition must end with a newline.",
                        _token_range(tok),
                    )
                ],
                syntax=True,
            )

    def _extend(self, frame: _Frame, tok: Token) -> None:
        if tok.type == "NL_OR_COMMENT":
            return  # newlines inside brackets neither start nor continue an operand
        head = frame.head
        if head is not None and (
            head.value_start is None
            or (
                tok.type == "STRING_CHARS"
                and frame.last is not None
                and frame.last is frame.value_token
                and frame.last.type == "DBLQUOTE"
            )
        ):
            # For a quoted string HCL reports the literal inside the quotes.
            head.value_start, frame.value_token = _token_range(tok), tok
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
        line, col = _start(tok)
        col += newline
        raise DiagError(
            [
                Diag(
                    "Invalid multi-line string",
                    "Quoted strings may not be split over multiple lines. To produce a multi-line string, "
                    'either use the \\n escape to represent a newline character or use the "heredoc" '
                    "multi-line template syntax.",
                    Range(line, col, line + 1, 1),
                )
            ],
            syntax=True,
        )

    # By phase. Functions, not bound methods: a dict of those on the instance would tie it
    # (and the outline it holds) into a reference cycle only the garbage collector frees.
    _HANDLERS = {"start": _on_start, "header": _on_header, "value": _on_value, "block": _on_block}

    # -- syntax errors ------------------------------------------------------
    def char_error(self, exc: UnexpectedCharacters) -> Diag:
        return self.char_error_at(exc.line, exc.column, exc.char)

    @staticmethod
    def char_error_at(line: int, column: int, char: str) -> Diag:
        rng = Range(line, column, line, column + 1)
        if char == "'":
            detail = 'Single quotes are not valid. Use double quotes (") to enclose strings.'
            return Diag("Invalid character", detail, rng)
        return Diag("Invalid character", "This character is not used within the language.", rng)

    @staticmethod
    def _in_string(frame: _Frame) -> bool:
        return frame.in_label or bool(frame.nesting and frame.nesting[-1][0] == "string")

    def token_error(self, tok: Token) -> Diag:
        frame = self.frames[-1]
        if tok.type == "$END":
            return self._eof_error(frame)
        if tok.type == "STRING_CHARS" and not self._in_string(frame):
            # Lark's fallback lexer swallows the rest of the line as string characters;
            # look at the first character to see what HCL would have found there.
            replacement = _fallback_token(tok)
            if replacement is None:
                char = str(tok.value)[0]
                return self.char_error_at(*_start(tok), char)
            tok = replacement
        rng = _token_range(tok)
        if frame.phase == "header":
            return self._header_diag(frame, tok)
        if frame.phase == "value":
            return self._value_error(frame, rng)
        if frame.phase == "block":
            return Diag("Missing newline after block definition", "A block definition must end with a newline.", rng)
        return Diag("Argument or block definition required", "An argument or block definition is required here.", rng)

    def _header_diag(self, frame: _Frame, tok: Token) -> Diag:
        rng = _token_range(tok)
        if frame.head is not None and frame.head.label_ranges:
            if tok.type == "NL_OR_COMMENT":
                detail = (
                    'A block definition must have block content delimited by "{" and "}", '
                    "starting on the same line as the block header."
                )
            elif tok.type == "EQ":
                detail = (
                    'The equals sign "=" indicates an argument definition, and must not be used when defining a block.'
                )
            else:
                detail = 'Either a quoted string block label or an opening brace ("{") is expected here.'
            return Diag("Invalid block definition", detail, rng)
        return Diag(
            "Argument or block definition required",
            "An argument or block definition is required here. "
            'To set an argument, use the equals sign "=" to introduce the argument value.',
            rng,
        )

    def _value_error(self, frame: _Frame, rng: Range) -> Diag:
        if frame.last is None or frame.last.type in _EXPECT_OPERAND:
            detail = "Expected the start of an expression, but found an invalid expression token."
            return Diag("Invalid expression", detail, rng)
        if not frame.nesting:
            return Diag("Missing newline after argument", "An argument definition must end with a newline.", rng)
        summary, detail = _SEPARATOR_ERRORS.get(frame.nesting[-1][0], _SEPARATOR_ERRORS["interp"])
        return Diag(summary, detail, rng)

    def _eof_error(self, frame: _Frame) -> Diag:
        if frame.phase == "value" and frame.nesting and frame.nesting[-1][0] == "string":
            detail = "No closing marker was found for the string."
            return Diag("Unterminated template string", detail, _token_range(frame.nesting[-1][1]))
        if len(self.frames) > 1:
            return Diag(
                "Unclosed configuration block",
                "There is no closing brace for this block before the end of the file. "
                "This may be caused by incorrect brace nesting elsewhere in this file.",
                frame.body.open_brace,
            )
        eof = self.eof_range()
        if frame.phase == "value":
            detail = "Expected the start of an expression, but found the end of the file."
            return Diag("Invalid expression", detail, eof)
        return Diag("Argument or block definition required", "An argument or block definition is required here.", eof)

    def eof_range(self) -> Range:
        lines = self.text.split("\n")
        return Range(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 1)


_SINGLE_CHAR_TOKENS = {
    "{": "LBRACE",
    "}": "RBRACE",
    "[": "LSQB",
    "]": "RSQB",
    "(": "LPAR",
    ")": "RPAR",
    ",": "COMMA",
    "=": "EQ",
    ":": "COLON",
    ".": "DOT",
    "+": "PLUS",
    "*": "ASTERISK",
    "/": "SLASH",
    "%": "PERCENT",
}


def _fallback_token(tok: Token) -> Token | None:
    """The token HCL would see at the start of a fallback STRING_CHARS token (None: invalid)."""
    text = str(tok.value)
    if text.startswith(("\n", "#", "//", "/*")):
        return Token("NL_OR_COMMENT", "\n", tok.start_pos, tok.line, tok.column)
    stripped = text.lstrip(" \t")
    column = _start(tok)[1] + len(text) - len(stripped)
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
        "Missing attribute separator",
        "Expected a newline or comma to mark the beginning of the next attribute.",
    ),
    "paren": ("Missing argument separator", "A comma is required to separate each function argument from the next."),
    "interp": (
        "Extra characters after interpolation expression",
        "Expected a closing brace to end the interpolation expression, but found extra characters.",
    ),
}


@functools.cache
def _parser() -> Lark:
    """A copy of python-hcl2's parser (through Lark's save and load) without ``propagate_positions``.

    Recording each tree node's source span took about 40% of the parse, and nothing reads
    it: python-hcl2 serializes without positions and the outline takes them from the tokens.
    """
    saved = io.BytesIO()
    _hcl_parser().save(saved, exclude_options=["propagate_positions"])
    saved.seek(0)
    return Lark.load(saved)


@functools.cache
def _fast_parser() -> FastParser | None:
    """``lalr.FastParser`` over ``_parser()``, unless this is a Lark it was not written for."""
    return FastParser(_parser()) if FastParser.supports_lark() else None


def _outline(text: str) -> tuple[Tree, Node]:
    """Parse ``text`` once: its syntax tree and the outline of where everything is.

    The fast parser gives the outliner each token once the parser has taken it, as Lark's
    loop below does, so an error the outliner raises is the one that loop would raise; on a
    syntax error it stops, and Lark's loop parses again to explain it.
    """
    fast = _fast_parser()
    if fast is not None:
        outliner = _Outliner(text)

        def end() -> Token:
            eof = outliner.eof_range()
            return Token("$END", "", len(text), eof.line, eof.col)

        try:
            return fast.parse(text, outliner.feed, end), outliner.root
        except Retry:
            pass
    return _outline_with_lark(text)


def _outline_with_lark(text: str) -> tuple[Tree, Node]:
    """``_outline`` through Lark's interactive parser, which raises Lark's syntax errors."""
    outliner = _Outliner(text)
    interactive = _parser().parse_interactive(text)
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
        tree = interactive.feed_token(Token("$END", "", len(text), eof.line, eof.col))
    except UnexpectedCharacters as exc:
        if pending is not None:
            outliner.feed(pending)
        raise DiagError([outliner.char_error(exc)], syntax=True) from None
    except UnexpectedToken as exc:
        if pending is not None and exc.token is not pending:
            outliner.feed(pending)  # the lexer, not the parser, rejected what followed
        raise DiagError([outliner.token_error(exc.token)], syntax=True) from None
    return tree, outliner.root


def load_outline(text: str) -> tuple[dict, Node]:
    """python-hcl2's values for ``text`` (``hcl2.loads``) and its outline, from one parse."""
    # hcl2.loads parses text + "\n" (Lark has no end-of-file token), which only adds a
    # newline to the tree; without comments it serializes to the same values.
    tree, outline = _outline(text)
    try:
        data = values(tree)
        if data is None:  # python-hcl2 has to say what is wrong, or the tree is very deep
            data = hcl2.serialize(hcl2.transform(tree), serialization_options=OPTIONS)
    except Exception as exc:  # python-hcl2 raises assorted error types
        raise DiagError([Diag("Invalid syntax", str(exc))], syntax=True) from None
    return data, outline
