"""The layer rules of docs/design.md: `ui → agent → editor, memory`; editor and memory never
import each other; nothing imports ui; the store loads no model or UI library."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "editor", "memory", "ui")
FORBIDDEN = {
    "editor": {"memory", "agent", "ui", "streamlit", "langgraph"},
    "memory": {"editor", "agent", "ui", "torch", "diffusers", "transformers", "streamlit",
               "langgraph"},
    "agent": {"ui", "streamlit"},
    "ui": set(),
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports, wherever in the module (lazy imports too)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            packages.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_its_layer_may(package):
    broken = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
              for path in modules(package)}
    assert {path: names for path, names in broken.items() if names} == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from memory import SessionStore\n")
    assert "memory" in imported_packages(module)
