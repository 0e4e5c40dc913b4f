"""No function in nomadtui/ above cyclomatic complexity 25 (radon's count, which includes boolean
operators): past that a function is a tangle nobody can check against Nomad's own code."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

import nomadtui

LIMIT = 25


def test_no_function_is_too_complex():
    too_complex = []
    for path in sorted(Path(nomadtui.__file__).parent.rglob("*.py")):
        for block in cc_visit(path.read_text()):
            if block.complexity > LIMIT:
                too_complex.append(
                    f"{path.relative_to(path.parents[1])}:{block.lineno} {block.name} {block.complexity}"
                )
    assert too_complex == []
