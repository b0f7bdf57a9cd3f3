"""Multi-process training on CPU (gloo) with Detectron2's DefaultTrainer.

Detectron2's `create_ddp_model` always passes `device_ids=[local_rank]`, which torch's
DistributedDataParallel rejects for CPU modules. `DefaultTrainer.__init__` calls it through the
module global `detectron2.engine.defaults.create_ddp_model`, so the trainer swaps in a wrapper
for the duration of its construction only; GPU models go through Detectron2's function unchanged.
"""
import contextlib

import detectron2.engine.defaults as d2_defaults
import torch.distributed as dist
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


def close_process_group():
    """Destroy the default process group, if any, before the worker returns.

    Detectron2's `launch` leaves it to interpreter exit, where gloo's worker threads can still be
    alive: a CPU rank then aborts after finishing its work ("terminate called without an active
    exception", SIGABRT, seen in a 2-process CPU run), and `launch` fails the whole run.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
