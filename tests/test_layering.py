"""The core (settings, model, nomad/, fabio, demo/, ...) imports no Textual: only nomadtui/ui does."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import nomadtui

ROOT = Path(nomadtui.__file__).parent

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


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix="nomadtui."):
        if info.name == "nomadtui.ui" or info.name.startswith("nomadtui.ui.") or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_no_module_outside_ui_imports_textual():
    modules = core_modules()
    assert "nomadtui.nomad.live" in modules and "nomadtui.demo.server" in modules and "nomadtui.model" in modules
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_TEXTUAL, *modules], capture_output=True, text=True, cwd=ROOT.parent
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_no_source_file_outside_ui_mentions_textual_imports():
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if "ui" not in p.relative_to(ROOT).parts[:1]
        and any(line.lstrip().startswith(("import textual", "from textual")) for line in p.read_text().splitlines())
    ]
    assert offenders == []
