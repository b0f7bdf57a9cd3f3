"""SOLVER.OPTIMIZER and whole-model gradient clipping (CLIP_TYPE "full_model")."""
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
