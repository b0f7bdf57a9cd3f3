"""Put on PYTHONPATH, hides detectron2 from this Python and its subprocesses, as on a fresh
machine (detectron2 is not on PyPI). Used by tests/test_fresh_machine.py."""
import sys


class _NoDetectron2:
    def find_spec(self, name, path=None, target=None):
        if name == "detectron2" or name.startswith("detectron2."):
            raise ModuleNotFoundError("No module named 'detectron2' (hidden: fresh-machine run)")
        return None


sys.meta_path.insert(0, _NoDetectron2())
