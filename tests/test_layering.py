"""The import contracts that keep the layers apart (DESIGN.md):

- only the UI (`ui/`) and the harness that composes it with the demo (`harness/`) import Textual;
- `serve` (the app in browsers) composes the demo and the UI's processes as `cli` and the harness do;
- the UI never imports the demo cluster (it reaches it over HTTP like any cluster), the harness nor `serve`;
- the core (model, settings, state, wire, safetext, jobfile, difftext, timeline, history, aio) imports
  neither the client (`nomad/`, the probe), the UI, the demo nor the harness, nor any HTTP library;
- the demo imports neither the client, the UI nor the harness;
- the client imports neither the UI, the demo nor the harness.

Imports are read from the source (those inside functions too), so a contract cannot be dodged by
importing late; and the core is also imported for real with Textual blocked.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import nomadtui

ROOT = Path(nomadtui.__file__).parent
ROOTS = ("nomadtui.harness", "nomadtui.cli", "nomadtui.serve")  # composition roots: nothing imports them
CORE = ("model", "settings", "state", "wire", "safetext", "jobfile", "difftext", "timeline", "history", "aio")
CLIENT = ("nomadtui.nomad", "nomadtui.probe")
CONTRACTS = {
    # module prefix -> what it must not import
    "nomadtui.ui": ("nomadtui.demo", *ROOTS),
    "nomadtui.demo": ("nomadtui.ui", *ROOTS, *CLIENT, "textual", "httpx", "requests"),
    "nomadtui.nomad": ("nomadtui.ui", "nomadtui.demo", *ROOTS, "textual"),
    "nomadtui.probe": ("nomadtui.ui", "nomadtui.demo", *ROOTS, "textual"),
    **{
        f"nomadtui.{name}": (
            "nomadtui.ui",
            "nomadtui.demo",
            *ROOTS,
            *CLIENT,
            "textual",
            "httpx",
            "requests",
            "nomad",
        )
        for name in CORE
    },
}


def modules() -> dict[str, Path]:
    out = {"nomadtui": ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix="nomadtui."):
        relative = info.name.split(".")[1:]
        path = ROOT.joinpath(*relative)
        out[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return out


def imports_of(name: str, path: Path) -> set[str]:
    """Every module `name` imports, at any depth of its code, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def forbidden(name: str) -> tuple[str, ...]:
    rules = [banned for prefix, banned in CONTRACTS.items() if name == prefix or name.startswith(prefix + ".")]
    return tuple(b for rule in rules for b in rule)


@pytest.mark.parametrize("name, path", sorted(modules().items()))
def test_import_contracts(name, path):
    banned = forbidden(name)
    broken = sorted(
        imported
        for imported in imports_of(name, path)
        if any(imported == b or imported.startswith(b + ".") for b in banned)
    )
    assert broken == [], f"{name} imports {broken}"


def test_every_module_is_under_a_contract_or_is_a_composition_root():
    roots = {"nomadtui", "nomadtui.__main__", *ROOTS}
    loose = [n for n in modules() if not forbidden(n) and n not in roots and not n.startswith("nomadtui.harness.")]
    assert loose == []


def test_only_the_ui_imports_textual_or_textual_serve():
    """The Textual shell is `ui/` (the app in a terminal, and in browsers through textual-serve);
    composition roots (cli, serve, harness) reach Textual only through it."""
    outside = {
        name: sorted(i for i in imports_of(name, path) if i.split(".")[0] in ("textual", "textual_serve"))
        for name, path in modules().items()
        if not name.startswith("nomadtui.ui")
    }
    assert {name: found for name, found in outside.items() if found} == {}


BLOCK_TEXTUAL = """
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "textual" or name.startswith("textual."):
            raise ImportError(f"the core imported {name}")
sys.meta_path.insert(0, Block())
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok", len(sys.argv) - 1)
"""


def test_nothing_outside_the_ui_loads_textual_when_imported():
    names = [n for n in modules() if not n.startswith(("nomadtui.ui", "nomadtui.harness")) and n != "nomadtui.__main__"]
    assert "nomadtui.nomad.live" in names and "nomadtui.demo.server" in names and "nomadtui.state" in names
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_TEXTUAL, *names], capture_output=True, text=True, cwd=ROOT.parent
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(names)}"
