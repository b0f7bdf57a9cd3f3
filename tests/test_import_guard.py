"""`import dld_d2` where detectron2 is missing (silent: the core works alone) and where it is
installed but unusable (one warning saying what failed and that nothing was registered).

Each case runs in a fresh interpreter whose import system is altered before dld_d2 is imported:
a meta-path finder that hides or breaks detectron2, or torchvision ops that fail to run."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_FINDER = """
class _Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "detectron2" or name.startswith("detectron2."):
            raise {error}
        return None

sys.meta_path.insert(0, _Finder())
"""

# detectron2 present (a stand-in module, so the case needs no real install) but torchvision's
# C++ ops do not load: what a torch/torchvision mismatch gives.
_BROKEN_OPS = """
import types
import torchvision.ops

def _nms(*args, **kwargs):
    raise RuntimeError("operator torchvision::nms does not exist")

torchvision.ops.nms = _nms
sys.modules.setdefault("detectron2", types.ModuleType("detectron2"))
"""

_IMPORT = """
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import dld_d2
    import dld_d2.data
    from dld_d2.evaluation import evaluate  # the core works either way
    from dld_d2.data.vocabulary import Vocabulary
    assert len(Vocabulary.builtin()) == 97
from dld_d2.environment import detectron2_available, detectron2_installed
print(json.dumps({
    "warnings": [str(w.message) for w in caught
                 if issubclass(w.category, RuntimeWarning) and "dld_d2" in str(w.message)],
    "available": detectron2_available(),
    "installed": detectron2_installed(),
}))
"""


def _run(setup):
    code = "import json, sys\n" + textwrap.dedent(setup) + _IMPORT
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("error", [
    # What Python raises when nothing provides the package, and a hook's bare message.
    'ModuleNotFoundError("No module named \'detectron2\'", name="detectron2")',
    'ModuleNotFoundError("No module named \'detectron2\' (hidden)")',
])
def test_missing_detectron2_is_silent(error):
    out = _run(_FINDER.format(error=error))
    assert out == {"warnings": [], "available": False, "installed": False}


@pytest.mark.parametrize("error, what", [
    # A detectron2 built against another torch: its extension does not load.
    ('ImportError("detectron2/_C.so: undefined symbol: _ZN3c10")', "undefined symbol"),
    # Installed, but its compiled part is absent.
    ('ModuleNotFoundError("No module named \'detectron2._C\'", name="detectron2._C")',
     "detectron2._C"),
])
def test_broken_detectron2_warns_once(error, what):
    out = _run(_FINDER.format(error=error))
    assert not out["available"] and out["installed"]
    assert len(out["warnings"]) == 1, out["warnings"]
    message = out["warnings"][0]
    assert what in message and "Nothing was registered" in message


def test_broken_torchvision_ops_warn_once():
    out = _run(_BROKEN_OPS)
    assert not out["available"] and out["installed"]
    assert len(out["warnings"]) == 1, out["warnings"]
    message = out["warnings"][0]
    assert "torchvision::nms does not exist" in message and "Nothing was registered" in message


# The tools that need detectron2, with the arguments their parsers require.
_TOOLS = {
    "analyze_reading.py": ["--config-file", "x.yaml"],
    "benchmark.py": ["--model", "a=x.yaml"],
    "benchmark_data.py": [],
    "get_flops.py": ["--config-file", "x.yaml"],
    "learning_curve.py": ["--run-dir", "x"],
    "visualize_data.py": ["--source", "annotation", "--output-dir", "x"],
}


@pytest.mark.parametrize("tool", sorted(_TOOLS))
def test_tools_without_detectron2_say_so_and_exit_2(tool):
    missing = 'ModuleNotFoundError("No module named \'detectron2\'", name="detectron2")'
    code = ("import runpy, sys\n" + textwrap.dedent(_FINDER.format(error=missing))
            + f"sys.argv = [{tool!r}, *{_TOOLS[tool]!r}]\n"
            + f"runpy.run_path('tools/{tool}', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"{tool} needs detectron2 (ModuleNotFoundError: No module named 'detectron2'); "
        "install it from its source: see README.md, Install."
    )
