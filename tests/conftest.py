"""Shared test set-up: tests marked `detectron2` skip, with one clear reason, when it is missing;
tests that read the evaluation data folder skip, with its path, when it is missing."""
import os
from pathlib import Path

import pytest

from dld_d2.environment import detectron2_import_error

REPO = Path(__file__).resolve().parents[1]

#: Environment variable naming the evaluation data folder: the official GT zips (gt/), lexicons
#: (lexicons/), a sample submission (preds/) and DAVAR's character list (charset/), as laid out
#: in README.md, "Tests". Default: `../shared/eval` beside the repository.
EVAL_DATA_ENV = "DLD_D2_EVAL_DATA"
DEFAULT_EVAL_DATA = REPO.parent / "shared" / "eval"


def eval_data_dir() -> Path:
    """The evaluation data folder: $DLD_D2_EVAL_DATA, else `../shared/eval` beside the repo."""
    configured = os.environ.get(EVAL_DATA_ENV)
    return Path(configured).expanduser().resolve() if configured else DEFAULT_EVAL_DATA

_D2_SKIP_REASON = (
    "detectron2 is not importable ({err}); it is not on PyPI — install it from its source "
    "(README.md, 'Install')"
)


def pytest_configure(config):
    config.addinivalue_line("markers", "detectron2: the test needs detectron2 (skipped without it)")


def pytest_collection_modifyitems(config, items):
    err = detectron2_import_error()
    if err is None:
        return
    skip = pytest.mark.skip(reason=_D2_SKIP_REASON.format(err=err))
    for item in items:
        if "detectron2" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    err = detectron2_import_error()
    skipped = terminalreporter.stats.get("skipped", [])
    n = sum(1 for rep in skipped if "detectron2 is not importable" in str(rep.longrepr))
    if err is not None:
        terminalreporter.write_line(
            f"{n} test(s) skipped because detectron2 is not importable: {err}", yellow=True
        )
    else:
        terminalreporter.write_line("detectron2 is importable: its integration tests ran.")


@pytest.fixture(scope="session")
def eval_data_location() -> Path:
    """Where the evaluation data folder is looked for (it may be missing; see `eval_data`)."""
    return eval_data_dir()


@pytest.fixture(scope="session")
def eval_data(eval_data_location) -> Path:
    """The evaluation data folder (GT zips, lexicons, sample predictions); the test is skipped,
    naming the path and the variable, when it is missing."""
    if not eval_data_location.is_dir():
        how = (f"{EVAL_DATA_ENV}={os.environ[EVAL_DATA_ENV]}" if os.environ.get(EVAL_DATA_ENV)
               else f"the default; set {EVAL_DATA_ENV} to use another folder")
        pytest.skip(f"evaluation data folder not found at {eval_data_location} ({how}; "
                    "README.md, 'Tests')")
    return eval_data_location


@pytest.fixture(scope="session")
def ic13_datasets_root(tmp_path_factory, eval_data):
    """A $DETECTRON2_DATASETS tree with the real IC13 end-to-end test GT and lexicons, and small
    blank test images (img_1..img_233, 40×40) standing in for the real ones."""
    import shutil

    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("datasets")
    ic13 = root / "icdar2013"
    (ic13 / "test_images").mkdir(parents=True)
    shutil.copy(eval_data / "gt" / "davar_format" / "gt-icdar2013.zip", ic13)
    blank = Image.fromarray(np.full((40, 40, 3), 128, np.uint8))
    for i in range(1, 234):
        blank.save(ic13 / "test_images" / f"img_{i}.jpg")
    shutil.copytree(eval_data / "lexicons" / "icdar2013", root / "lexicons" / "icdar2013")
    return root


@pytest.fixture(autouse=True)
def _dld_d2_logs_reach_caplog():
    """Tools run in-process call Detectron2's setup_logger(name="dld_d2"), which stops the
    package's records from propagating to the root logger, where caplog listens."""
    import logging

    logging.getLogger("dld_d2").propagate = True
    yield


@pytest.fixture(scope="session")
def ic13(eval_data):
    """The official IC13 end-to-end GT and the MANGO R50 sample submission (docs/evaluation.md,
    "Parity with the official scripts")."""
    from dld_d2.evaluation import read_gt_zip, read_submission_zip

    gt_zip = eval_data / "gt" / "davar_format" / "gt-icdar2013.zip"
    gt, fmt = read_gt_zip(gt_zip)
    preds = read_submission_zip(eval_data / "preds" / "mango_r50_ic13_none.zip", gt_zip, fmt)
    return gt, preds


@pytest.fixture(scope="session")
def tiny_trained_teacher(tmp_path_factory):
    """(run folder, environment) of the quick teacher schedule trained by train_net.py: 4 steps,
    checkpoints after 2 and 4, evaluated at the end on the tiny test split."""
    import subprocess
    import sys

    if detectron2_import_error() is not None:
        pytest.skip("detectron2 is not installed")
    out = tmp_path_factory.mktemp("tiny_teacher")
    env = dict(os.environ, DLD_D2_CACHE=str(tmp_path_factory.mktemp("cache")), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "train_net.py", "--config-file",
         "configs/quick_schedules/teacher_instant_test.yaml", "OUTPUT_DIR", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, env
