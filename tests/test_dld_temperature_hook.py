"""GumbelTemperatureHook: the trainer, not the model, sets DLD's Gumbel temperature each step,
from the iteration and the epoch length (MODEL.DLD.ITERS_PER_EPOCH, or the trainer's loader)."""
from types import SimpleNamespace

import pytest
import torch.nn as nn

pytestmark = pytest.mark.detectron2


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.temperature = None


def _hook(iters_per_epoch, ims_per_batch=2, tau0=5.0, decay=0.5):
    from dld_d2.engine import GumbelTemperatureHook

    return GumbelTemperatureHook(tau0, decay, iters_per_epoch, ims_per_batch)


def _loader(num_images, batch=2):
    from detectron2.data import build_detection_train_loader

    dicts = [{"file_name": f"{i}.jpg", "height": 10, "width": 20 if i % 2 else 5, "image_id": i}
             for i in range(num_images)]
    return build_detection_train_loader(dicts, mapper=lambda d: d, total_batch_size=batch,
                                        aspect_ratio_grouping=True, num_workers=0)


def test_temperature_per_epoch_from_the_iteration():
    model = _Model()
    hook = _hook(iters_per_epoch=3)
    hook.trainer = SimpleNamespace(model=model, iter=0, data_loader=None)
    hook.before_train()
    seen = []
    for it in range(7):
        hook.trainer.iter = it
        hook.before_step()
        seen.append(model.temperature)
    assert seen == [5.0, 5.0, 5.0, 2.5, 2.5, 2.5, 1.25]


def test_epoch_length_from_the_trainers_loader():
    from dld_d2.engine import loader_dataset_size

    loader = _loader(7)
    assert loader_dataset_size(loader) == 7
    model = _Model()
    hook = _hook(iters_per_epoch=0, ims_per_batch=2)
    hook.trainer = SimpleNamespace(model=model, iter=4, data_loader=loader)
    hook.before_train()
    assert hook.epoch_length == 4  # ceil(7 / 2)
    hook.before_step()
    assert model.temperature == 2.5  # iteration 4: epoch 1


def test_the_hook_reaches_a_wrapped_model_and_refuses_others():
    model = _Model()
    hook = _hook(iters_per_epoch=1)
    hook.trainer = SimpleNamespace(model=nn.DataParallel(model), iter=2, data_loader=None)
    hook.before_train()
    hook.before_step()
    assert model.temperature == 1.25
    hook.trainer = SimpleNamespace(model=nn.Linear(2, 2), iter=0, data_loader=None)
    with pytest.raises(TypeError, match="no Gumbel temperature"):
        hook.before_train()
    hook = _hook(iters_per_epoch=0)
    hook.trainer = SimpleNamespace(model=model, iter=0, data_loader=[[{}]])
    with pytest.raises(ValueError, match="set MODEL.DLD.ITERS_PER_EPOCH"):
        hook.before_train()
