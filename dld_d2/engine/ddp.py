"""Multi-process training on CPU (gloo) with Detectron2's DefaultTrainer.

Detectron2's `create_ddp_model` always passes `device_ids=[local_rank]`, which torch's
DistributedDataParallel rejects for CPU modules. `DefaultTrainer.__init__` calls it through the
module global `detectron2.engine.defaults.create_ddp_model`, so the trainer swaps in a wrapper
for the duration of its construction only; GPU models go through Detectron2's function unchanged.
"""
import contextlib

import detectron2.engine.defaults as d2_defaults
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel


def create_ddp_model(model, **kwargs):
    """Detectron2's `create_ddp_model`, but CPU models are wrapped without `device_ids`."""
    if comm.get_world_size() > 1 and next(model.parameters()).device.type == "cpu":
        kwargs.pop("fp16_compression", None)
        return DistributedDataParallel(model, **kwargs)
    return _D2_CREATE_DDP_MODEL(model, **kwargs)


_D2_CREATE_DDP_MODEL = d2_defaults.create_ddp_model


@contextlib.contextmanager
def cpu_ddp_support():
    """Within this context, DefaultTrainer wraps CPU models in DDP without `device_ids`."""
    d2_defaults.create_ddp_model = create_ddp_model
    try:
        yield
    finally:
        d2_defaults.create_ddp_model = _D2_CREATE_DDP_MODEL
