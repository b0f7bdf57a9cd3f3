"""Environment probes shared by the package, its tools and its tests."""
import functools
import sys
import warnings


@functools.lru_cache(maxsize=None)
def _probe_detectron2():
    """(installed, error): whether detectron2 is installed at all, and None when it imports
    with working torchvision ops, else why not ("ExceptionType: message")."""
    try:
        import detectron2  # noqa: F401
        import torch
        import torchvision.ops

        torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    except Exception as e:  # ImportError, or torchvision's C++ ops failing to load
        return not _is_missing(e), f"{type(e).__name__}: {e}"
    return True, None


def _is_missing(e: BaseException) -> bool:
    """True when `e` says that detectron2 itself is not installed (not that it is broken)."""
    if not isinstance(e, ModuleNotFoundError):
        return False
    if e.name is not None:
        return e.name == "detectron2"
    # Some import hooks raise it without `name`; the message is then all there is.
    return str(e).startswith("No module named 'detectron2'")


def detectron2_import_error():
    """Return None when detectron2 (with working torchvision ops) imports, else the reason why not."""
    return _probe_detectron2()[1]


def require_detectron2(tool_name: str) -> None:
    """Exit with code 2, after one line on stderr saying why, when detectron2 cannot be used:
    the tools need it and would otherwise fail later with a traceback."""
    err = detectron2_import_error()
    if err is not None:
        print(f"{tool_name} needs detectron2 ({err}); install it from its source: see README.md, "
              "Install.", file=sys.stderr)
        sys.exit(2)


def detectron2_available():
    return detectron2_import_error() is None


def detectron2_installed():
    """True when detectron2 is installed, whether or not it imports and works."""
    return _probe_detectron2()[0]


_warned = False


def warn_if_detectron2_unusable():
    """Warn once per process when detectron2 is installed but unusable (it fails to import, or
    torchvision's ops do not load): dld_d2 then registers nothing with it, and `train_net.py`
    would otherwise fail later at a registry lookup. Silent when detectron2 is not installed at
    all (the core works without it) or when it works."""
    global _warned
    err = detectron2_import_error()
    if err is None or not detectron2_installed() or _warned:
        return
    _warned = True
    warnings.warn(
        f"dld_d2: detectron2 is installed but cannot be used ({err}). Nothing was registered "
        "with it: no dld_d2 models, heads, backbones or datasets, so train_net.py and the tools "
        "will not find them. Install a matching torch/torchvision pair and rebuild detectron2 "
        "against that torch (README.md, 'Install'). The detectron2-free core (vocabulary, "
        "annotation formats, recognition modules, evaluation protocol) still works.",
        RuntimeWarning,
        stacklevel=2,
    )
