"""The layout of dld_d2.modeling: the pure-torch core never imports Detectron2, no module
imports in a loop, and no module grows past ~300 lines."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELING = REPO / "dld_d2" / "modeling"
HIDER = REPO / "tests" / "fresh_machine"  # its sitecustomize.py hides detectron2

# The pure-torch core: recognition branch, selector, schedule, penalty, scale scoring,
# distillation losses, low-resolution geometry, replay bank.
PURE = sorted(p for p in (MODELING / "recognition").glob("*.py")) + [
    MODELING / "dld" / f"{name}.py"
    for name in ("selector", "schedule", "penalty", "scale_scoring", "distillation", "lowres",
                 "replay_bank")
]


def _module(path):
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _imports(path):
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.relative_to(MODELING).as_posix())
def test_pure_core_never_imports_detectron2(path):
    assert not any(m.split(".")[0] in ("detectron2", "fvcore") for m in _imports(path))


def test_pure_core_imports_where_detectron2_is_missing():
    modules = [_module(p) for p in PURE]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            "assert not any(k.startswith('detectron2') for k in sys.modules)\nprint('ok')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(HIDER), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]


def _module_level_imports(path):
    """dld_d2 modules that `path` imports when it is imported (not those imported inside
    functions), relative imports resolved; a package stands for its __init__."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = []
    body = list(ast.parse(path.read_text()).body)
    while body:
        node = body.pop(0)
        if isinstance(node, (ast.If, ast.Try)):
            body[:0] = node.body + getattr(node, "orelse", []) + [
                n for h in getattr(node, "handlers", []) for n in h.body]
        elif isinstance(node, ast.Import):
            targets += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if node.module:  # `from . import x` names submodules, not its own package
                targets.append(base)
            targets += [f"{base}.{a.name}" for a in node.names]  # `from pkg import submodule`
    return {t for t in targets if t in _MODULES}


_MODULES = {_module(p) for p in (REPO / "dld_d2").rglob("*.py")}


def test_no_import_loop():
    """No chain of module-level imports in dld_d2 leads back to where it started."""
    graph = {_module(p): _module_level_imports(p) for p in (REPO / "dld_d2").rglob("*.py")}
    done, stack = set(), []

    def visit(m):
        if m in stack:
            raise AssertionError("import loop: " + " -> ".join(stack[stack.index(m):] + [m]))
        if m in done:
            return
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            visit(t)
        stack.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


def test_no_modeling_file_over_300_lines():
    long = {p.relative_to(MODELING).as_posix(): n for p in MODELING.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert not long
