"""Every config loads, stays inside configs/, and builds its model; the paper teacher trains."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.detectron2

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS)
def test_config_loads_and_builds(path, tmp_path):
    from detectron2.modeling import build_model

    from dld_d2.config import get_cfg

    base = yaml.safe_load((REPO / path).read_text()).get("_BASE_")
    if base:
        resolved = (REPO / path).parent.joinpath(base).resolve()
        assert (REPO / "configs") in resolved.parents, f"{path}: _BASE_ leaves configs/"
    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / path))
    cfg.MODEL.DEVICE = "cpu"
    if cfg.MODEL.META_ARCHITECTURE == "DLDSpotter":  # distillation needs a teacher checkpoint
        cfg.MODEL.DLD.TEACHER_WEIGHTS = _random_teacher(str(REPO / path), tmp_path)
    model = build_model(cfg)
    assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE


def _random_teacher(config, folder):
    """A TextSpotter checkpoint (random weights) of a DLD config's spotter architecture."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(config)
    cfg.merge_from_list(["MODEL.META_ARCHITECTURE", "TextSpotter", "MODEL.DEVICE", "cpu"])
    DetectionCheckpointer(build_model(cfg), save_dir=str(folder)).save("teacher")
    return str(folder / "teacher.pth")


@pytest.mark.parametrize("path", ["configs/pretrain.yaml", "configs/teacher.yaml",
                                  "configs/distill.yaml"])
def test_paper_config_trains_one_iteration(path, tmp_path):
    env = dict(os.environ, DLD_D2_CACHE=str(tmp_path / "cache"))
    extra = ["MODEL.DLD.TEACHER_WEIGHTS", _random_teacher(path, tmp_path)] if "distill" in path else []
    if "distill" not in path:  # neither ImageNet weights nor a pretrained spotter here
        extra += ["MODEL.WEIGHTS", ""]
    if "pretrain" in path:  # one tiny training set for SynthText + COCO-Text
        extra += ["DATALOADER.DATASET_RATIOS", "()"]
    proc = subprocess.run(
        [sys.executable, "train_net.py", "--config-file", path, *extra,
         "DATASETS.TRAIN", '("dld_synthetic_tiny_train",)', "DATASETS.TEST", "()",
         "INPUT.MIN_SIZE_TRAIN", "(256,)", "INPUT.MAX_SIZE_TRAIN", "320",
         "SOLVER.IMS_PER_BATCH", "2", "SOLVER.MAX_ITER", "1", "SOLVER.WARMUP_ITERS", "0",
         "DATALOADER.NUM_WORKERS", "0", "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(tmp_path / "out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "model_final.pth").is_file()


def test_pretrain_schedule_is_the_reference_codes():
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / "configs/pretrain.yaml"))
    epoch = 800_000 // 32  # the reference's SynthText datalist, 32 of its images a step
    assert cfg.SOLVER.MAX_ITER == 4 * epoch and cfg.SOLVER.STEPS == (2 * epoch, 3 * epoch)
    assert cfg.SOLVER.IMS_PER_BATCH == 64 and cfg.SOLVER.BASE_LR == 0.001
    assert cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE == 5.0 and cfg.SOLVER.WARMUP_ITERS == 0
    assert cfg.DATASETS.TRAIN == ("synthtext_train", "cocotext_train")
    assert cfg.DATALOADER.DATASET_RATIOS == (0.5, 0.5)
    assert cfg.INPUT.MIN_SIZE_TRAIN == (768,) and cfg.INPUT.MAX_SIZE_TRAIN == 768
    cfg.merge_from_file(str(REPO / "configs/teacher.yaml"))
    assert cfg.MODEL.WEIGHTS == "output/pretrain/model_final.pth"  # step 2 starts from step 1


def test_distill_schedule_is_the_papers():
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / "configs/distill.yaml"))
    epoch = 396  # ceil(9,484 images / 24)
    assert cfg.SOLVER.MAX_ITER == 50 * epoch and cfg.SOLVER.STEPS == (30 * epoch, 40 * epoch)
    assert cfg.SOLVER.WARMUP_ITERS == 0 and cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE == 35.0
    assert cfg.MODEL.DLD.PENALTY_WEIGHT == 0.1 and cfg.INPUT.MIN_SIZE_TRAIN == (896,)
    cfg.merge_from_file(str(REPO / "configs/distill_gamma0.3.yaml"))
    assert cfg.MODEL.DLD.PENALTY_WEIGHT == 0.3
