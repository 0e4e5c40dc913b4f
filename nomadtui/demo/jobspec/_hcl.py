"""``parse_hcl``: the top level of a jobspec file (variables, locals and one job)."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._canonical import canonicalize_api
from ._decode import Body, ConversionError, Decoder, as_bool, as_int, as_string
from ._errors import DiagError, JobspecError
from ._jobdecoder import JobDecoder
from ._outline import Node, load_outline

VARIABLES_DOCS = "https://developer.hashicorp.com/nomad/docs/job-specification/hcl2/variables"


def _parse_text(text: str, prefix: str = "") -> tuple[dict, Node]:
    try:
        return load_outline(text)
    except DiagError as err:
        err.prefix = prefix
        raise


def _variable_type(raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw.removeprefix("${").removesuffix("}").strip()
    return None


def _typed(value: Any, type_name: str | None) -> Any:
    converters = {"string": as_string, "number": _as_int_or_float, "bool": as_bool}
    if type_name in converters and value is not None:
        return converters[type_name](value)
    return value


def _as_int_or_float(value: Any) -> int | float:
    if isinstance(value, float) or (isinstance(value, str) and re.search(r"[.eE]", value)):
        try:
            return float(value)
        except ValueError:
            raise ConversionError("a number is required") from None
    return as_int(value)


class _FileDecoder:
    """The top level of a jobspec: variables, locals and exactly one job."""

    def __init__(self, text: str, var_text: str | None) -> None:
        self.dec = Decoder(text)
        self.var_text = var_text

    def decode(self) -> dict:
        data, outline = _parse_text(self.dec.text)
        overrides = self._var_file()
        root = Body(data, outline, self.dec)
        if not root.check((), {"variable": ["name"], "variables": [], "locals": [], "job": ["name"]}):
            raise DiagError(self.dec.diags)
        self._variables(root, overrides)
        self._locals(root)
        job = self._job(root)
        if self.dec.diags:
            raise DiagError(self.dec.diags)
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
        body = Body(data, outline, Decoder(self.var_text))
        return {name: body.dec.evaluate(raw) for name, (raw, _) in body.attrs.items()}

    def _variables(self, root: Body, overrides: dict[str, Any]) -> None:
        declared: dict[str, tuple[Any, bool, str | None, Node]] = {}
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
            except ConversionError as exc:
                self.dec.error("Invalid value for variable", f"Unsuitable value: {exc}", node.def_range)

    def _locals(self, root: Body) -> None:
        for _, body in root.block_list("locals"):
            for name, (raw, _) in body.attrs.items():
                self.dec.scope["local"][name] = self.dec.evaluate(raw)

    def _job(self, root: Body) -> dict | None:
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
        return JobDecoder(self.dec).job(body, labels[0] if labels else "")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off CPython's cyclic garbage collector while a jobspec is parsed.

    It makes a full collection whenever the objects that survived its young collections have
    grown by a quarter, and a parse keeps every token and tree node alive until it ends, so a
    big jobspec set off one full collection after another over an ever larger heap: 4 of
    them took 1.3 s of an 8,000-key parse, 6 took 3 s at 16,000 keys. Nothing in a parse
    needs collecting before it ends; afterwards the collector goes over its objects once.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_hcl(text: str, variables: str | None = None, canonicalize: bool = False) -> dict:
    """What ``POST /v1/jobs/parse`` returns for ``JobHCL``/``Variables``/``Canonicalize``.

    Raises ``JobspecError`` with the HTTP 400 body text on any failure.
    """
    if text == "":
        raise JobspecError("Job spec is empty")
    with _gc_paused():
        try:
            job = _FileDecoder(text, variables).decode()
        except DiagError as err:
            raise err.to_jobspec_error() from None
        if canonicalize:
            canonicalize_api(job)
    return job
