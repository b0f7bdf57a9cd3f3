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


def _lr_factors(model, cfg):
    """{id(parameter): LR factor} for the parts whose LR is a multiple of SOLVER.BASE_LR: a DLD
    selector (MODEL.DLD.SELECTOR_LR_FACTOR) and every recognition branch
    (MODEL.TEXT_HEAD.LR_FACTOR; a DLD teacher's is frozen, so not in the optimizer)."""
    for key, value in (("MODEL.TEXT_HEAD.LR_FACTOR", cfg.MODEL.TEXT_HEAD.LR_FACTOR),
                       ("MODEL.DLD.SELECTOR_LR_FACTOR", cfg.MODEL.DLD.SELECTOR_LR_FACTOR)):
        if value < 0:  # torch would only say "Invalid learning rate", without the key
            raise ValueError(f"{key} must be >= 0 (a multiple of SOLVER.BASE_LR), got {value}")
    factors = {}
    text = cfg.MODEL.TEXT_HEAD.LR_FACTOR
    if text != 1.0:
        for name, module in model.named_modules():
            if name.split(".")[-1] == "rec_branch":
                factors.update({id(p): text for p in module.parameters()})
    selector = getattr(model, "selector", None)
    if selector is not None and cfg.MODEL.DLD.SELECTOR_LR_FACTOR != 1.0:
        factors.update({id(p): cfg.MODEL.DLD.SELECTOR_LR_FACTOR for p in selector.parameters()})
    return factors


def _with_lr_factors(param_groups, factors):
    """Split each parameter group so that a parameter with a factor gets that × the group's LR
    (the unscaled parameters first, so that the parameter order is unchanged without factors)."""
    groups = []
    for g in param_groups:
        by_factor = {1.0: []}
        for p in g["params"]:
            by_factor.setdefault(factors.get(id(p), 1.0), []).append(p)
        for factor, params in by_factor.items():
            if params:
                groups.append({**g, "params": params, "lr": g["lr"] * factor})
    return groups


def build_optimizer(cfg, model):
    """SOLVER.OPTIMIZER "SGD" → Detectron2's optimizer; "ADAMW" → AdamW with Detectron2's
    parameter groups. SOLVER.CLIP_GRADIENTS.CLIP_TYPE "full_model" clips the global norm;
    MODEL.DLD.SELECTOR_LR_FACTOR and MODEL.TEXT_HEAD.LR_FACTOR scale the learning rates of a DLD
    selector and of the recognition branch."""
    name = cfg.SOLVER.OPTIMIZER.upper()
    clip = cfg.SOLVER.CLIP_GRADIENTS
    full_model_clip = clip.ENABLED and clip.CLIP_TYPE == "full_model"
    factors = _lr_factors(model, cfg)
    if name == "SGD" and not full_model_clip and not factors:
        return d2_build_optimizer(cfg, model)
    params = get_default_optimizer_params(
        model,
        base_lr=cfg.SOLVER.BASE_LR,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
        weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
    )
    params = _with_lr_factors(params, factors)
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
