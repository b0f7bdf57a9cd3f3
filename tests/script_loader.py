"""Load one of the repository's scripts (tools/, benchmarks/) as a module, for its tests."""
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str, name: str = ""):
    """The module of REPO/relative_path, executed afresh (named `name`, else its file stem)."""
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
