"""Go and Nomad formats that the client and the demo cluster both read and write: one copy, so
the two cannot drift apart. No imports from the rest of the package: the core, the client and
the demo all use it.

- Go's `time.Duration`: integer nanoseconds, parsed (`time.ParseDuration`) and printed
  (`Duration.String`) exactly as Go does;
- RFC 3339 times as Nomad's JSON carries them;
- strconv.Quote (`%q`);
- go-multierror's text, which Nomad returns for validation failures;
- an image's tag, which people call the version of what runs.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


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
        elif 0xD800 <= code < 0xE000:  # not a valid rune: Go prints U+FFFD
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


# --- Go durations -------------------------------------------------------------------------------
# time.ParseDuration and Duration.String (Go's time/format.go, time/time.go).

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


def _time_quote(text: str) -> str:
    """Quote like Go's time package does in its error messages (byte-wise, unlike strconv.Quote)."""
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
    invalid = ValueError(f"time: invalid duration {_time_quote(text)}")
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
            raise ValueError(f"time: missing unit in duration {_time_quote(text)}")
        pos += len(unit)
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {_time_quote(unit)} in duration {_time_quote(text)}")
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


# --- RFC 3339 -----------------------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z: the last time Python can print


def format_rfc3339(epoch: float | None) -> str | None:
    """A time.Time as Go's RFC3339Nano writes it in the local zone (Go's zero time is null):
    trailing zeros of the fraction trimmed, `Z` for a zero offset."""
    if epoch is None:
        return None
    local = datetime.fromtimestamp(epoch, timezone.utc).astimezone()
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{local.microsecond:06d}".rstrip("0")
    if fraction:
        text += "." + fraction
    return text + _offset(local)


def format_time(epoch: float | None) -> str:
    """The nomad CLI's absolute time: seconds, local zone (`2006-01-02T15:04:05Z07:00`)."""
    if epoch is None:
        return ""
    try:
        local = datetime.fromtimestamp(epoch, timezone.utc).astimezone()
    except (OverflowError, OSError, ValueError):
        return ""
    return local.strftime("%Y-%m-%dT%H:%M:%S") + _offset(local)


def _offset(local: datetime) -> str:
    offset = local.strftime("%z")
    return "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"


def parse_rfc3339(value: object) -> float | None:
    """A time.Time field as epoch seconds; null, Go's zero time and nonsense are None."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00").replace("z", "+00:00"), count=1)
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    except (ValueError, OverflowError):
        return None


def unix_nanos(value: object) -> float | None:
    """Nomad's UnixNano fields (CreateTime, ModifyTime, SubmitTime) as epoch seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < _LAST_SECOND * 1e9:
        return None
    return value / 1e9


def nanos(epoch: float) -> int:
    """Epoch seconds as a UnixNano field."""
    return int(round(epoch * 1e9))


# --- go-multierror --------------------------------------------------------------------------------


def multierror(errors: list[str]) -> str:
    """hashicorp/go-multierror's ListFormatFunc text for these errors, in order."""
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    return head + "".join(f"\n\t* {e}" for e in errors) + "\n\n"


_MULTIERROR = re.compile(r"^\d+ errors? occurred:\s*", re.S)


def multierror_items(text: str) -> list[str] | None:
    """The errors of a go-multierror text (None if `text` is not one). An item that spans lines
    (a nested multierror) keeps its continuation lines."""
    if not _MULTIERROR.match(text):
        return None
    items: list[str] = []
    for line in text.strip().splitlines()[1:]:
        if line.startswith("\t* "):
            items.append(line[3:])
        elif items and line.strip():
            items[-1] += "\n" + line
    return items


# --- images --------------------------------------------------------------------------------------


def image_tag(image: str) -> str:
    """`bigwhite/httpsbackendservice:v1.0.2` -> `v1.0.2`, `nginx:1.27` -> `1.27`: the tag, which
    people call the version; the whole reference when it has no tag (`registry:5000/app`)."""
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else image
