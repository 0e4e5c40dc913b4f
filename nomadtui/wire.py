"""Go and Nomad formats that the client and the demo cluster both write: one copy, so the two
cannot drift apart. (No imports from the rest of the package: the core, the client and the demo
all use it.)"""

from __future__ import annotations

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            '"': '\\"', "\\": "\\\\"}


def go_quote(text: str) -> str:
    """Go's strconv.Quote (`%q`): printable runes as they are, the rest escaped (appendEscapedRune
    in strconv/quote.go). Go's IsPrint and Python's isprintable() agree: categories L, M, N, P, S
    and the ASCII space."""
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code < 0xE000:      # not a valid rune: Go prints U+FFFD
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'
