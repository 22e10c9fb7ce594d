"""The stages of ``core`` import downwards only (README, Layout).

Every ``import`` in ``core/`` is read with :mod:`ast`, those inside functions included (a
lazy import is still a dependency), and checked against the floors below: a module may
import its own floor's other packages only where the README says so, and never a floor
above its own.  The app (``ui``, ``pages``, Streamlit) is above all of ``core``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lower number: lower floor.  A module may import its own floor and the floors below.
FLOORS = {
    "ground": 0,  # core/*.py that are not listed below: names, paths, errors, embedded, ...
    "core.stimuli": 1,
    "core.storage": 1,
    "core.analysis": 1,
    "core.lm": 2,
    "core.probe": 2,
    "core.present": 2,
    "core.config": 3,
    "core.pipeline": 4,
    "core.export": 5,
    "core.__main__": 6,
    "ui": 7,
    "pages": 7,
    "streamlit": 7,
}


def floor_of(module: str) -> int:
    for prefix, floor in FLOORS.items():
        if module == prefix or module.startswith(prefix + "."):
            return floor
    return FLOORS["ground"] if module.startswith("core") else -1  # -1: a library


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


CORE = sorted((ROOT / "core").rglob("*.py"))


def test_the_floors_are_read():
    assert len(CORE) > 60
    assert floor_of("core.names") == 0 and floor_of("core.embedded") == 0
    assert floor_of("core.lm.specs") == 2 and floor_of("numpy") == -1


@pytest.mark.parametrize("path", CORE, ids=[module_name(p) for p in CORE])
def test_no_import_runs_up_a_floor(path):
    here = module_name(path)
    up = [
        f"line {line}: {target}"
        for line, target in imports(path)
        if floor_of(target) > floor_of(here)
    ]
    assert not up, f"{here} (floor {floor_of(here)}) imports from higher floors: {up}"


def test_a_planted_upward_import_is_caught(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from core.lm.specs import resolve\n")
    assert [t for _, t in imports(planted) if floor_of(t) > floor_of("core.stimuli.x")]
