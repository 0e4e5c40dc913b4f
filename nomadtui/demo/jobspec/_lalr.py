"""python-hcl2's Lark parser, run by a tighter loop over its own tables.

Lark's interactive LALR parse is a chain of generators (contextual lexer, python-hcl2's
post-lexer, ``iter_parse``) with a few Python-level calls per token and per reduction (a
``Rule.__hash__`` for each callback, an ``assert`` that calls ``Rule.__ne__``, a ``Token``
constructor that checks its keyword arguments): for an 8,000-key meta block it took 0.55 s
of CPU, about 70 us a key. ``FastParser`` does the same steps over the same objects (the
contextual lexer's per-state scanners, python-hcl2's post-lexer rule, the LALR table and
Lark's tree-building callbacks) and builds the same tree, tokens and positions included, in
0.23 s: it makes fewer Python calls per token, and skips the chains of "?rule" reductions
that only pass a child up (8 of the 18 reductions of a ``key = "value"`` line).

It handles only input that parses: wherever Lark would raise (no terminal matches, or the
parser has no action for a token), it raises ``Retry`` and the caller parses again with Lark,
which raises its own exception with everything it carries. It reads Lark 1.3's internals
(``ContextualLexer.lexers``, ``Scanner._mres``, the parse table), so it is used only with
that release.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import lark
from hcl2.postlexer import OPERATOR_TYPES, PostLexer
from lark import Lark, Token, Tree
from lark.lexer import ContextualLexer
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift

_NEWLINE = "NL_OR_COMMENT"
_new_str = str.__new__


class Retry(Exception):
    """The input has a syntax error: Lark's own parse will say which."""


class _Lexers(dict):
    """By parser state, what BasicLexer.next_token uses: its scanner's regexes, the callbacks
    that retype a NAME that is a keyword, and which terminals are skipped or may hold newlines."""

    def __init__(self, basic_lexers: dict) -> None:
        super().__init__()
        self.basic_lexers = basic_lexers

    def __missing__(self, state: int) -> tuple:
        basic = self.basic_lexers[state]
        regexes = basic.scanner._mres  # building the scanner also sets basic.callback
        assert not basic.ignore_types & set(basic.callback)
        self[state] = lexer = (regexes, basic.callback, basic.ignore_types, basic.newline_types)
        return lexer


class FastParser:
    """Parses with the tables of a ``Lark(parser="lalr", lexer="contextual")`` instance."""

    @staticmethod
    def supports_lark() -> bool:
        """Whether the installed Lark is the one whose internals this class was written for."""
        return lark.__version__.startswith("1.3.")

    def __init__(self, parser: Lark) -> None:
        frontend = parser.parser
        contextual, postlexer = frontend.lexer.lexer, frontend.lexer.postlexer
        assert isinstance(contextual, ContextualLexer) and type(postlexer) is PostLexer
        lalr = frontend.parser.parser
        table, callbacks = lalr.parse_table, lalr.callbacks
        start = frontend.parser_conf.start[0]
        self.start_state, self.end_state = table.start_states[start], table.end_states[start]

        # Each state's lexer, made when the state is first met (as Lark builds its scanners).
        self.lexers = _Lexers(contextual.lexers)

        # Each state's actions by terminal or rule name: a shift is (next state, None, 0, None),
        # a reduction (None, tree-building callback, length, rule name). The callback is None
        # for a "?rule" with one child, which hands that child up unchanged.
        reductions: dict[int, tuple] = {}
        self.actions: dict[int, dict[str, tuple]] = {}
        for state, row in table.states.items():
            actions: dict[str, tuple] = {}
            for name, (action, arg) in row.items():
                if action is Shift:
                    actions[name] = (arg, None, 0, None)
                    continue
                if id(arg) not in reductions:
                    size, callback = len(arg.expansion), callbacks[arg]
                    identity = size == 1 and isinstance(callback, ExpandSingleChild)
                    reductions[id(arg)] = (None, None if identity else callback, size, arg.origin.name)
                actions[name] = reductions[id(arg)]
            self.actions[state] = actions
        self.chains: dict[tuple[int, int, str], int] = {}

    def _chain(self, under: int, top: int, kind: str) -> int:
        """The top state after the "?rule" reductions that ``kind`` makes from ``top``."""
        while True:
            action = self.actions[top].get(kind)
            if action is None or action[:3] != (None, None, 1):
                return top
            top = self.actions[under][action[3]][0]

    def parse(self, text: str, on_token: Callable[[Token], None], end: Callable[[], Token]) -> Tree:
        """The tree of ``text``; ``on_token`` sees each token after the parser took it.

        ``end()`` makes the ``$END`` token fed last. Raises ``Retry`` on a syntax error.
        """
        actions, lexers = self.actions, self.lexers
        states: list[int] = [self.start_state]
        values: list[Any] = []
        chains = self.chains

        def feed(token: Token) -> Any:
            """ParserState.feed_token: reduce as far as the token lets, then shift it."""
            kind = token.type
            while True:
                top = states[-1]
                try:
                    target, callback, size, origin = actions[top][kind]
                except KeyError:
                    raise Retry from None
                if target is not None:
                    states.append(target)
                    values.append(token)
                    return None
                if callback is None:
                    # A run of "?rule" reductions only replaces the top state, by one that
                    # depends on the state under it, the top one and the token.
                    key = (states[-2], top, kind)
                    if key not in chains:
                        chains[key] = self._chain(*key)
                    states[-1] = chains[key]
                elif size:
                    children = values[-size:]
                    del values[-size:]
                    del states[-size:]
                    values.append(callback(children))
                    states.append(actions[states[-1]][origin][0])
                else:
                    values.append(callback([]))
                    states.append(actions[top][origin][0])
                if kind == "$END" and states[-1] == self.end_state:
                    return values[-1]

        pos, line, line_start, length = 0, 1, 0, len(text)
        held: Token | None = None  # a newline the post-lexer holds back to see what follows
        tokens = 0
        while True:
            # BasicLexer.next_token, with the lexer of the parser's current state.
            token = None
            regexes, retype, ignore, multiline = lexers[states[-1]]
            while pos < length:
                for regex in regexes:
                    match = regex.match(text, pos)
                    if match:
                        break
                else:
                    raise Retry
                value, kind = match.group(), match.lastgroup
                start, start_line, start_column = pos, line, pos - line_start + 1
                if kind in multiline:
                    newlines = value.count("\n")
                    if newlines:
                        line += newlines
                        line_start = pos + value.rindex("\n") + 1
                pos += len(value)
                if kind in ignore:
                    continue
                # Token(kind, value, start, ...), without its constructor's two Python calls
                token = _new_str(Token, value)
                token.type, token.value, token.start_pos, token.line, token.column = (
                    kind,
                    value,
                    start,
                    start_line,
                    start_column,
                )
                token.end_line, token.end_column, token.end_pos = line, pos - line_start + 1, pos
                break
            if token is None:
                break
            if kind in retype:
                token = retype[kind](token)
            # PostLexer._merge_newlines_into_operators
            if token.type == _NEWLINE:
                if held is not None:
                    feed(held)
                    on_token(held)
                held = token
                continue
            if held is not None:
                if token.type in OPERATOR_TYPES:
                    token = token.update(value=str(held) + str(token))
                else:
                    feed(held)
                    on_token(held)
                held = None
            feed(token)
            on_token(token)
            tokens += 1
            if not tokens % 256:
                # Offer the GIL: the demo parses on a worker thread, and its event loop would
                # otherwise wait out the interpreter's 5 ms switch interval for every step of
                # every other request it answers meanwhile.
                time.sleep(0)
        if held is not None:
            feed(held)
            on_token(held)
        return feed(end())
