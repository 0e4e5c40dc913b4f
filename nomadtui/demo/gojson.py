"""Go's encoding/json, as Nomad's HTTP agent decodes a request body with it.

decodeBody (command/agent/http.go) runs `json.NewDecoder(req.Body).Decode(&out)` into the
endpoint's request struct. `decode(raw, T)` does the same against a declared Go type (the
structs in api_types.py) and returns the body as Go would hold it: keys in their Go spelling,
only declared fields, well-typed values. Anything Go refuses raises NomadError(400, <Go's text>).

Syntax is goscanner's; this mirrors Go 1.26 encoding/json decode.go (UnmarshalTypeError and
its Struct/Field context, case-insensitive field names, null handling) and fold.go.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Union

from . import gostrconv
from .goscanner import Number, Object, ScanError, scan
from .store import NomadError

ANY_MAX_DEPTH = 100  # the demo's own limit inside interface{} values (its code recurses)


# --- Go types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    name: str  # reflect.Type.String(), as error texts print it
    kind: str  # string, bool, int, uint, bytes ([]byte), any (interface{})
    bits: int = 64


@dataclass(frozen=True)
class Ptr:
    elem: GoType

    @property
    def name(self) -> str:
        return "*" + self.elem.name


@dataclass(frozen=True)
class Slice:
    elem: GoType

    @property
    def name(self) -> str:
        return "[]" + self.elem.name


@dataclass(frozen=True)
class Map:
    elem: GoType  # keys are strings

    @property
    def name(self) -> str:
        return "map[string]" + self.elem.name


@dataclass(eq=False)
class Struct:
    """A struct type; `embed` lists embedded structs, whose fields are promoted."""

    name: str  # "api.Job"
    fields: dict[str, GoType]
    embed: tuple[Struct, ...] = ()
    # JSON name -> (names of the embedded structs on the way, type); own fields win.
    resolved: dict[str, tuple[tuple[str, ...], GoType]] = field(init=False)
    folded: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.resolved = {key: ((), typ) for key, typ in self.fields.items()}
        for inner in self.embed:
            for key, (path, typ) in inner.resolved.items():
                self.resolved.setdefault(key, ((inner.short,) + path, typ))
        self.folded = {}
        for key in self.resolved:
            self.folded.setdefault(_fold(key), key)

    @property
    def short(self) -> str:
        return self.name.rpartition(".")[2]


GoType = Union[Scalar, Ptr, Slice, Map, Struct]  # noqa: UP007 - a runtime alias: `|` of classes needs 3.10's types.UnionType

STRING = Scalar("string", "string")
BOOL = Scalar("bool", "bool")
INT = Scalar("int", "int")
INT8 = Scalar("int8", "int", 8)
INT64 = Scalar("int64", "int")
UINT8 = Scalar("uint8", "uint", 8)
UINT64 = Scalar("uint64", "uint")
DURATION = Scalar("time.Duration", "int")
BYTES = Scalar("[]uint8", "bytes")
ANY = Scalar("interface {}", "any")


def _fold(key: str) -> str:
    """fold.go foldName, for ASCII field names: ASCII case, plus the two non-ASCII runes whose
    Unicode fold set holds an ASCII letter (KELVIN SIGN, LONG S)."""
    return (
        key.upper()
        if key.isascii()
        else "".join(c.upper() if c.isascii() else {"\u212a": "K", "\u017f": "S"}.get(c, c) for c in key)
    )


# --- decoding into Go types ---------------------------------------------------------------------


class _TypeError(Exception):
    pass


_UNSET = object()


def _describe(node: Any) -> str:
    if isinstance(node, Object):
        return "object"
    if type(node) is list:
        return "array"
    if isinstance(node, Number):
        return "number"
    return "bool" if isinstance(node, bool) else "string"


def _zero(typ: GoType) -> Any:
    if isinstance(typ, Struct):
        return {}
    if isinstance(typ, Scalar) and typ.kind != "any":
        return {"string": "", "bool": False, "bytes": None}.get(typ.kind, 0)
    return None


class _Decoder:
    """decode.go's decodeState. Go records the first type error and decodes on; nothing else
    can fail after it, so stopping there gives the same answer."""

    def __init__(self) -> None:
        self.limit: str | None = None  # the first value beyond the demo's own limits

    def error(self, value: str, typ: GoType, ctx: tuple[str, tuple[str, ...]] | None):
        """UnmarshalTypeError.Error(), with addErrorContext's Struct and Field."""
        where = f"Go struct field {ctx[0]}.{'.'.join(ctx[1])}" if ctx else "Go value"
        raise _TypeError(f"json: cannot unmarshal {value} into {where} of type {typ.name}")

    def convert(self, node: Any, typ: GoType, ctx, into: Any = _UNSET) -> Any:
        """The Go value of `node` decoded into `into` (a value already there, as Go decodes a
        repeated key into the same struct or map); _UNSET where null leaves it unset."""
        if isinstance(typ, Ptr):
            return None if node is None else self.convert(node, typ.elem, ctx, into)
        if node is None:  # null: nil for maps, slices and interfaces, no effect elsewhere
            return None if isinstance(typ, (Slice, Map)) or typ in (ANY, BYTES) else into
        if isinstance(typ, Struct):
            return (
                self.struct(node, typ, ctx, into) if isinstance(node, Object) else self.error(_describe(node), typ, ctx)
            )
        if isinstance(typ, Map):
            if not isinstance(node, Object):
                self.error(_describe(node), typ, ctx)
            out = dict(into) if isinstance(into, dict) else {}
            for key, value in node:
                got = self.convert(value, typ.elem, ctx)
                out[key] = _zero(typ.elem) if got is _UNSET else got
            return out
        if isinstance(typ, Slice):
            return self.slice(node, typ, ctx, into)
        return self.scalar(node, typ, ctx)

    def struct(self, node: Object, typ: Struct, ctx, into: Any) -> dict:
        out = dict(into) if isinstance(into, dict) else {}
        stack = ctx[1] if ctx else ()
        for key, value in node:
            name = key if key in typ.resolved else typ.folded.get(_fold(key))
            if name is None:
                continue  # unknown fields are skipped, unread
            path, field_type = typ.resolved[name]
            got = self.convert(value, field_type, (typ.short, stack + path + (name,)), out.get(name, _UNSET))
            if got is not _UNSET:
                out[name] = got
        return out

    def slice(self, node: Any, typ: Slice, ctx, into: Any) -> list:
        if type(node) is not list:
            self.error(_describe(node), typ, ctx)
        old = into if isinstance(into, list) else []
        out = []
        for index, item in enumerate(node):
            got = self.convert(item, typ.elem, ctx, old[index] if index < len(old) else _UNSET)
            out.append(_zero(typ.elem) if got is _UNSET else got)
        return out

    def scalar(self, node: Any, typ: Scalar, ctx) -> Any:
        kind = typ.kind
        if kind == "any":
            return self.interface(node, ctx, 1)
        if kind == "bytes":
            return self.byte_slice(node, ctx)
        if isinstance(node, Number) and kind in ("int", "uint"):
            parse = gostrconv.parse_uint if kind == "uint" else gostrconv.parse_int
            try:
                return parse(node.text, typ.bits)
            except gostrconv.NumError:
                self.error(f"number {node.text}", typ, ctx)
        if (kind == "string" and type(node) is str) or (kind == "bool" and isinstance(node, bool)):
            return node
        self.error(_describe(node), typ, ctx)

    def byte_slice(self, node: Any, ctx) -> str | None:
        """[]byte: a JSON string is base64 (or an array of uint8); kept as canonical base64."""
        if type(node) is list:
            return base64.b64encode(bytes(self.slice(node, Slice(UINT8), ctx, _UNSET))).decode()
        if type(node) is not str:
            self.error(_describe(node), BYTES, ctx)
        return base64.b64encode(_base64(node.encode())).decode()

    def interface(self, node: Any, ctx, depth: int) -> Any:
        """interface{}: objects, arrays, strings, bools, and numbers as float64."""
        if depth > ANY_MAX_DEPTH and isinstance(node, list):  # an object or an array
            self.limit = self.limit or (
                f"{'.'.join(ctx[1])} nests deeper than the demo agent supports ({ANY_MAX_DEPTH} levels)"
            )
            return None
        if isinstance(node, Object):
            return {key: self.interface(value, ctx, depth + 1) for key, value in node}
        if type(node) is list:
            return [self.interface(item, ctx, depth + 1) for item in node]
        if isinstance(node, Number):
            number = float(node.text)
            if number in (float("inf"), float("-inf")):
                self.error(f"number {node.text}", Scalar("float64", "float"), ctx)
            # float64 as Go prints it: integral values without a fraction.
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        return node


def _base64(src: bytes) -> bytes:
    """encoding/base64 StdEncoding.Decode (decodeQuantum), with CorruptInputError's offsets."""

    def corrupt(offset: int) -> _TypeError:
        return _TypeError(f"illegal base64 data at input byte {offset}")

    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out, si, n = bytearray(), 0, len(src)
    while si < n:
        quantum: list[int] = []
        while len(quantum) < 4:
            if si == n:
                if not quantum:
                    return bytes(out)
                raise corrupt(si - len(quantum))
            c, si = src[si], si + 1
            if c in b"\r\n":
                continue
            if c != 0x3D:
                if (value := alphabet.find(bytes([c]))) < 0:
                    raise corrupt(si - 1)
                quantum.append(value)
                continue
            if len(quantum) < 2:  # padding
                raise corrupt(si - 1)
            if len(quantum) == 2:
                while si < n and src[si] in b"\r\n":
                    si += 1
                if si == n:
                    raise corrupt(n)
                if src[si] != 0x3D:
                    raise corrupt(si - 1)
                si += 1
            while si < n and src[si] in b"\r\n":
                si += 1
            if si < n:
                raise corrupt(si)
            break
        value = sum(v << (18 - 6 * k) for k, v in enumerate(quantum))
        out += value.to_bytes(3, "big")[: len(quantum) - 1]
    return bytes(out)


def decode(raw: bytes, target: Struct) -> dict | None:
    """The body decoded into `target` as decodeBody does; None for a JSON null (Go then leaves
    the request struct at its zero value)."""
    if not raw:
        raise NomadError(400, "Request body is empty")
    decoder = _Decoder()
    try:
        node = scan(raw)
        # Decode(&out): out holds a pointer to the request struct, so null sets out to nil.
        value = None if node is None else decoder.convert(node, target, None)
    except (ScanError, _TypeError) as e:
        raise NomadError(400, str(e)) from None
    if decoder.limit:
        raise NomadError(400, decoder.limit)
    return value


def nil_element(value: Any, typ: GoType, path: str) -> str | None:
    """The first nil element of a []*T in a decoded `value`, as "Job.TaskGroups[1]"."""
    if isinstance(typ, Ptr):
        typ = typ.elem
    if value is None or isinstance(typ, Scalar):
        return None
    if isinstance(typ, Struct):
        for name, (_, inner) in typ.resolved.items():
            if name in value and (found := nil_element(value[name], inner, f"{path}.{name}")):
                return found
        return None
    items = value.items() if isinstance(typ, Map) else enumerate(value)
    for key, item in items:
        where = f"{path}[{key!r}]" if isinstance(typ, Map) else f"{path}[{key}]"
        if item is None and isinstance(typ.elem, Ptr):
            return where
        if found := nil_element(item, typ.elem, where):
            return found
    return None
