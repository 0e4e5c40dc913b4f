"""Go's strconv, for the query parameters Nomad's HTTP agent parses and the texts of its
errors (`strconv.ParseUint: parsing "x": invalid syntax`): Go 1.26 strconv/number.go and
internal/strconv/{atoi,atob}.go, and strconv.Quote (quote.go)."""

from __future__ import annotations

from ..wire import go_quote as quote


class NumError(ValueError):
    """strconv.NumError: `str(e)` is Go's `e.Error()`."""

    def __init__(self, func: str, num: str, reason: str) -> None:
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {reason}")


_SYNTAX, _RANGE = "invalid syntax", "value out of range"


def parse_bool(text: str) -> bool:
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise NumError("ParseBool", text, _SYNTAX)


def _uint(text: str, bits: int) -> tuple[int, str | None]:
    """internal/strconv.ParseUint, base 10: the value, or the reason it failed. Overflow is
    reported as soon as it happens, before any later invalid digit."""
    if not text:
        return 0, _SYNTAX
    value = 0
    for char in text:
        if not "0" <= char <= "9":
            return 0, _SYNTAX
        value = value * 10 + ord(char) - 48
        if value >= 1 << bits:
            return 0, _RANGE
    return value, None


def parse_uint(text: str, bits: int = 64, func: str = "ParseUint") -> int:
    value, reason = _uint(text, bits)
    if reason:
        raise NumError(func, text, reason)
    return value


def parse_int(text: str, bits: int = 64, func: str = "ParseInt") -> int:
    """internal/strconv.ParseInt: an optional sign, then ParseUint's digits and range."""
    negative = text[:1] == "-"
    digits = text[1:] if text[:1] in ("+", "-") else text
    value, reason = _uint(digits, 64)
    if reason == _SYNTAX:
        raise NumError(func, text, _SYNTAX)
    limit = 1 << (bits - 1)
    if reason or value > limit or (value == limit and not negative):
        raise NumError(func, text, _RANGE)
    return -value if negative else value


def atoi(text: str) -> int:
    """strconv.Atoi is ParseInt(s, 10, 0) on a 64-bit machine, reported as Atoi."""
    return parse_int(text, 64, "Atoi")
