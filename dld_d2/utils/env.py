"""Environment probes shared by the package, its tools and its tests."""
import functools


@functools.lru_cache(maxsize=None)
def detectron2_import_error():
    """Return None when detectron2 (with working torchvision ops) imports, else the reason why not."""
    try:
        import detectron2  # noqa: F401
        import torch
        import torchvision.ops

        torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    except Exception as e:  # ImportError, or torchvision's C++ ops failing to load
        return f"{type(e).__name__}: {e}"
    return None


def detectron2_available():
    return detectron2_import_error() is None
