"""Errors: the HTTP error body, go-multierror lists and HCL diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...wire import multierror

FILENAME = "input.hcl"


class JobspecError(Exception):
    """A jobspec failed to parse or validate; ``message`` is the HTTP error body, ``errors`` the
    go-multierror items it is made of (the message alone when it is a single error)."""

    def __init__(
        self, message: str, line: int | None = None, column: int | None = None, *, errors: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.errors = [message] if errors is None else errors


# ---------------------------------------------------------------------------
# hashicorp/go-multierror formatting
# ---------------------------------------------------------------------------


class MultiError:
    """An error list printed exactly like go-multierror's default format."""

    def __init__(self) -> None:
        self.errors: list[Any] = []

    def add(self, err: Any) -> None:
        """``mErr.Errors = append(mErr.Errors, err)``: nested lists stay nested."""
        if err is not None:
            self.errors.append(err)

    def merge(self, err: Any) -> None:
        """``multierror.Append(&mErr, err)``: nested lists are flattened."""
        if isinstance(err, MultiError):
            self.errors.extend(err.errors)
        else:
            self.add(err)

    def or_none(self) -> MultiError | None:
        return self if self.errors else None

    def items(self) -> list[str]:
        return [str(err) for err in self.errors]

    def __str__(self) -> str:
        return multierror(self.items())


# ---------------------------------------------------------------------------
# HCL diagnostics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        if self.line == self.end_line:
            return f"{FILENAME}:{self.line},{self.col}-{self.end_col}"
        return f"{FILENAME}:{self.line},{self.col}-{self.end_line},{self.end_col}"


@dataclass
class Diag:
    summary: str
    detail: str
    subject: Range | None = None

    def __str__(self) -> str:
        # Go prints a nil *hcl.Range as "<nil>".
        where = str(self.subject) if self.subject else "<nil>"
        return f"{where}: {self.summary}; {self.detail}"


class DiagError(Exception):
    """Diagnostics that end parsing; ``syntax`` selects HCL's Diagnostics.Error format."""

    def __init__(self, diags: list[Diag], syntax: bool = False, prefix: str = "") -> None:
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
