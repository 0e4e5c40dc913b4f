"""The README keeps its promises: the two commands, and every key the app binds."""

from __future__ import annotations

import re
from pathlib import Path

from nomadtui.ui.keys import APP_KEYS, MAIN_KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_two_commands():
    assert "pip install . && nomadtui --demo" in README
    assert 'pip install ".[test]" && pytest' in README
    assert "pip install . && nomadtui serve --demo" in README  # and open the printed address


def test_every_key_is_documented():
    for key in APP_KEYS + MAIN_KEYS:
        if key.action in ("app.focus_next", "app.focus_previous"):
            continue
        shown = key.key_display or key.keys
        assert f"`{shown}`" in README, f"README does not document {shown} ({key.description})"


def test_every_screenshot_is_shown():
    shots = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "screenshots").glob("*.svg"))
    assert shots
    for name in shots:
        assert f"screenshots/{name}" in README, name


def test_every_module_is_named_in_how_it_is_built():
    section = README.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    words = set(re.findall(r"[\w.]+", section))
    package = Path(__file__).resolve().parents[1] / "nomadtui"
    missing = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py":
            name = path.parent.name  # a package: named as its folder
        else:
            name = path.name if path.name in words else path.stem
        if name not in words:
            missing.append(str(path.relative_to(package)))
    assert missing == [], f"README's 'How it is built' does not name {missing}"
