"""SOLVER.OPTIMIZER, whole-model gradient clipping (CLIP_TYPE "full_model") and the LR factors
of the DLD selector and the recognition branch."""
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.detectron2


def _cfg(name, clip_type="full_model", clip=1.0):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.SOLVER.OPTIMIZER = name
    cfg.SOLVER.BASE_LR = 0.1
    cfg.SOLVER.CLIP_GRADIENTS.ENABLED = True
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = clip_type
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = clip
    return cfg


@pytest.mark.parametrize("name", ["ADAMW", "SGD"])
def test_full_model_clipping_bounds_the_global_norm(name):
    from dld_d2.engine import build_optimizer

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    opt = build_optimizer(_cfg(name, clip=0.5), model)
    assert isinstance(opt, torch.optim.AdamW if name == "ADAMW" else torch.optim.SGD)
    (model(torch.randn(8, 4)) * 100).sum().backward()
    opt.step()
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert norm == pytest.approx(0.5, rel=1e-4)  # clipped together, not per parameter


def test_unknown_optimizer_is_named():
    from dld_d2.engine import build_optimizer

    with pytest.raises(ValueError, match="SOLVER.OPTIMIZER='LAMB'"):
        build_optimizer(_cfg("LAMB"), torch.nn.Linear(2, 2))


class _WithSelector(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.student = torch.nn.Linear(4, 4)
        self.selector = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.BatchNorm1d(2))


@pytest.mark.parametrize("name", ["ADAMW", "SGD"])
def test_selector_lr_factor_scales_only_the_selector_and_follows_the_schedule(name):
    from detectron2.solver import build_lr_scheduler

    from dld_d2.engine import build_optimizer

    cfg = _cfg(name, clip_type="value")
    cfg.SOLVER.CLIP_GRADIENTS.ENABLED = False
    cfg.SOLVER.BIAS_LR_FACTOR = 2.0
    cfg.SOLVER.WARMUP_ITERS = 0
    cfg.SOLVER.STEPS = (1,)
    cfg.MODEL.DLD.SELECTOR_LR_FACTOR = 30.0
    model = _WithSelector()
    opt = build_optimizer(cfg, model)
    lr = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert len(lr) == len(list(model.parameters()))  # every parameter once
    assert lr[id(model.student.weight)] == pytest.approx(0.1)
    assert lr[id(model.student.bias)] == pytest.approx(0.2)
    assert lr[id(model.selector[0].weight)] == pytest.approx(3.0)
    assert lr[id(model.selector[0].bias)] == pytest.approx(6.0)
    assert lr[id(model.selector[1].weight)] == pytest.approx(3.0)
    sched = build_lr_scheduler(cfg, opt)
    opt.step()
    sched.step()  # past the step at iteration 1: every group ×0.1, the ratio kept
    lr = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert lr[id(model.student.weight)] == pytest.approx(0.01)
    assert lr[id(model.selector[0].weight)] == pytest.approx(0.3)


def test_selector_lr_factor_one_is_detectron2s_optimizer():
    from dld_d2.engine import build_optimizer

    cfg = _cfg("SGD", clip_type="value")
    cfg.SOLVER.CLIP_GRADIENTS.ENABLED = False
    opt = build_optimizer(cfg, _WithSelector())
    assert {g["lr"] for g in opt.param_groups} == {0.1}


@pytest.mark.parametrize("config", ["teacher_instant_test.yaml", "dld_instant_test.yaml"])
def test_text_head_lr_factor_scales_every_trained_recognition_branch(config):
    from detectron2.modeling import build_model

    from dld_d2.config import get_cfg
    from dld_d2.engine import build_optimizer

    cfg = get_cfg()
    cfg.merge_from_file(str(Path(__file__).resolve().parents[1] / "configs/quick_schedules" / config))
    cfg.MODEL.TEXT_HEAD.LR_FACTOR = 3.0
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    lr = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    trained = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
    assert set(lr) == set(trained)  # every trained parameter once, the frozen teacher's none
    base, bias = cfg.SOLVER.BASE_LR, cfg.SOLVER.BASE_LR * cfg.SOLVER.BIAS_LR_FACTOR
    branch = [n for n in trained.values() if ".rec_branch." in n]
    assert branch and all(n.startswith(("roi_heads.", "student.")) for n in branch)
    for i, n in trained.items():
        factor = 3.0 if ".rec_branch." in n else 1.0
        if n.startswith("selector."):
            factor = cfg.MODEL.DLD.SELECTOR_LR_FACTOR
        expected = (bias if n.endswith(".bias") else base) * factor
        assert lr[i] == pytest.approx(expected), n


@pytest.mark.parametrize("key", ["MODEL.TEXT_HEAD.LR_FACTOR", "MODEL.DLD.SELECTOR_LR_FACTOR"])
def test_negative_lr_factor_names_its_key(key):
    from dld_d2.engine import build_optimizer

    cfg = _cfg("ADAMW")
    cfg.merge_from_list([key, "-1.0"])
    with pytest.raises(ValueError, match=rf"{key} must be >= 0 .*got -1.0"):
        build_optimizer(cfg, _WithSelector())
