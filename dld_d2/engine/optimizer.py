"""Optimizer from config: SGD (Detectron2's) or AdamW (docs/method.md, "Training step"), with
whole-model clipping."""
import torch
from detectron2.solver import build_optimizer as d2_build_optimizer
from detectron2.solver.build import get_default_optimizer_params, maybe_add_gradient_clipping


def _with_full_model_clipping(optimizer_cls, max_norm, norm_type):
    """A subclass of `optimizer_cls` that clips the gradient norm of all its parameters together
    before each step (Detectron2's own clipping works per parameter)."""

    class FullModelClipped(optimizer_cls):
        def step(self, closure=None):
            params = [p for group in self.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
            return super().step(closure)

    FullModelClipped.__name__ = optimizer_cls.__name__ + "FullModelClip"
    return FullModelClipped


def _with_selector_lr(model, param_groups, factor):
    """Split each parameter group so that a DLD selector's parameters get `factor` × its LR."""
    selector = getattr(model, "selector", None)
    if selector is None or factor == 1.0:
        return param_groups
    own = {id(p) for p in selector.parameters()}
    groups = []
    for g in param_groups:
        rest = [p for p in g["params"] if id(p) not in own]
        mine = [p for p in g["params"] if id(p) in own]
        if rest:
            groups.append({**g, "params": rest})
        if mine:
            groups.append({**g, "params": mine, "lr": g["lr"] * factor})
    return groups


def build_optimizer(cfg, model):
    """SOLVER.OPTIMIZER "SGD" → Detectron2's optimizer; "ADAMW" → AdamW with Detectron2's
    parameter groups. SOLVER.CLIP_GRADIENTS.CLIP_TYPE "full_model" clips the global norm;
    MODEL.DLD.SELECTOR_LR_FACTOR scales a DLD selector's learning rate."""
    name = cfg.SOLVER.OPTIMIZER.upper()
    clip = cfg.SOLVER.CLIP_GRADIENTS
    full_model_clip = clip.ENABLED and clip.CLIP_TYPE == "full_model"
    selector_lr = cfg.MODEL.DLD.SELECTOR_LR_FACTOR
    if name == "SGD" and not full_model_clip and selector_lr == 1.0:
        return d2_build_optimizer(cfg, model)
    params = get_default_optimizer_params(
        model,
        base_lr=cfg.SOLVER.BASE_LR,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
        weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
    )
    params = _with_selector_lr(model, params, selector_lr)
    if name == "ADAMW":
        cls, kwargs = torch.optim.AdamW, {"lr": cfg.SOLVER.BASE_LR}
    elif name == "SGD":
        cls = torch.optim.SGD
        kwargs = {"lr": cfg.SOLVER.BASE_LR, "momentum": cfg.SOLVER.MOMENTUM,
                  "nesterov": cfg.SOLVER.NESTEROV}
    else:
        raise ValueError(f"SOLVER.OPTIMIZER={cfg.SOLVER.OPTIMIZER!r}: expected 'SGD' or 'ADAMW'")
    if full_model_clip:
        return _with_full_model_clipping(cls, clip.CLIP_VALUE, clip.NORM_TYPE)(params, **kwargs)
    return maybe_add_gradient_clipping(cfg, cls)(params, **kwargs)
