"""A cache folder built once: under a file lock, into a temporary folder renamed into place.

The generated datasets (synthetic scenes, word sheets) are cached as folders holding an
``index.json``. Several processes (DDP ranks, dataloader workers, parallel test runs) may ask for
the same folder at once: one builds it, the others wait on the lock and then read it, and a
folder with an ``index.json`` is always complete.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from typing import Callable

INDEX = "index.json"


@contextlib.contextmanager
def file_lock(path: str):
    """Exclusive lock on `path`; yields whether a lock is really held."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the atomic rename alone keeps the cache consistent
        yield False
        return
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_folder_once(final: str, build_into: Callable[[str], None]) -> None:
    """Make the cache folder `final` unless it is there (has an ``index.json``).

    `build_into(tmp)` writes the folder's whole content, ``index.json`` last, into the empty
    folder `tmp`, which is then renamed to `final`. A builder that raises leaves no temporary
    folder behind; those of a builder that crashed are removed by the next one, under the lock.
    """
    if os.path.isfile(os.path.join(final, INDEX)):
        return
    parent, name = os.path.split(final)
    os.makedirs(parent, exist_ok=True)
    with file_lock(final + ".lock") as locked:
        if os.path.isfile(os.path.join(final, INDEX)):
            return
        if locked:  # under the lock, any temporary folder is a crashed builder's leftover
            for entry in os.listdir(parent):
                if entry.startswith(name + ".tmp-"):
                    shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
        tmp = os.path.join(parent, f"{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.makedirs(tmp)
        try:
            build_into(tmp)
            if not os.path.isfile(os.path.join(tmp, INDEX)):
                raise RuntimeError(f"building {final} wrote no {INDEX}")
            os.rename(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            # Another builder won the rename (only possible without flock): keep its copy.
            if not os.path.isfile(os.path.join(final, INDEX)):
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
