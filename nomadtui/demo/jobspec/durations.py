"""Go ``time.Duration``: durations as integer nanoseconds, parsed and printed like Go."""

from __future__ import annotations

import re

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
MAX_INT64 = 2**63 - 1


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


_DIGITS = re.compile(r"\d*")
_UNIT = re.compile(r"[^.\d]*")


# The scanners take a position in the text rather than the rest of it: slicing off what was
# read took quadratic time on a long duration.
def _leading_int(text: str, pos: int) -> tuple[int, int, bool]:
    digits = _DIGITS.match(text, pos).group(0)  # type: ignore[union-attr]
    value = int(digits) if digits else 0
    return value, pos + len(digits), value > 2**63


def _leading_fraction(text: str, pos: int) -> tuple[int, float, int]:
    digits = _DIGITS.match(text, pos).group(0)  # type: ignore[union-attr]
    value, scale = 0, 1.0
    for digit in digits:
        # Go stops accumulating precision once the value would overflow.
        if value > MAX_INT64 // 10:
            continue
        value = value * 10 + int(digit)
        scale *= 10
    return value, scale, pos + len(digits)


def parse_duration(text: str) -> int:
    """Parse a Go duration string ("1h30m", "500ms", "1.5s") into nanoseconds.

    Raises ``ValueError`` with Go's ``time.ParseDuration`` error text.
    """
    invalid = ValueError(f"time: invalid duration {_go_quote(text)}")
    pos, negative = 0, False
    if text[:1] in ("-", "+"):
        negative, pos = text[0] == "-", 1
    if text[pos:] == "0":
        return 0
    if pos == len(text):
        raise invalid
    total = 0
    while pos < len(text):
        if not (text[pos] == "." or text[pos].isdigit()):
            raise invalid
        whole, after, overflow = _leading_int(text, pos)
        if overflow:
            raise invalid
        had_whole, pos = after != pos, after
        fraction, scale, had_fraction = 0, 1.0, False
        if text.startswith(".", pos):
            fraction, scale, after = _leading_fraction(text, pos + 1)
            had_fraction, pos = after != pos + 1, after
        if not had_whole and not had_fraction:
            raise invalid
        unit = _UNIT.match(text, pos).group(0)  # type: ignore[union-attr]
        if not unit:
            raise ValueError(f"time: missing unit in duration {_go_quote(text)}")
        pos += len(unit)
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
