"""The one way outside text reaches the screen: as a Rich `Text` built from `safetext.inert`,
never through markup, with the escapes of control characters shown in reverse video so a
`\\x1b` that was in the data looks different from one somebody typed.

Every string from a cluster, Fabio, a probe answer, an error body or a file goes through
`literal()`; widgets get Text, not str (a str given to a Label, an Option, a Rich table cell or
the palette's highlighter is parsed as markup, and `web[/]` would end the app).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from ..safetext import CONTROL, SHORT, cut, spans

ESCAPE_STYLE = Style(reverse=True)


def literal(value: object, style: str | Style = "", *, multiline: bool = False, limit: int | None = None) -> Text:
    """Outside text as inert Rich Text in `style`."""
    text = cut(value if isinstance(value, str) else str(value), limit)
    if CONTROL.search(text) is None:
        return Text(text, style=style)
    out = Text(style=style)
    for piece, escape in spans(text, multiline=multiline):
        out.append(piece, ESCAPE_STYLE if escape else None)
    return out


def short(value: object, style: str | Style = "") -> Text:
    """Outside text for a one-line place (a notification, the status line): inert and bounded."""
    return literal(value, style, limit=SHORT)
