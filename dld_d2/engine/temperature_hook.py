"""`GumbelTemperatureHook`: sets a DLD model's Gumbel-softmax temperature before each training
step, τ0 · decay^epoch (docs/method.md, "Temperature and penalty")."""
import logging

from detectron2.engine import HookBase
from torch.nn.parallel import DataParallel, DistributedDataParallel
from torch.utils.data import Dataset, IterableDataset

from ..modeling.dld import schedule

logger = logging.getLogger(__name__)


def loader_dataset_size(loader):
    """Images in one pass over a Detectron2 train loader: the length of the map-style dataset
    under its wrappers (aspect-ratio grouping, DataLoader, sampling); None when there is none."""
    dataset = getattr(loader, "dataset", None)
    while dataset is not None:
        if isinstance(dataset, Dataset) and not isinstance(dataset, IterableDataset):
            return len(dataset)
        dataset = getattr(dataset, "dataset", None)
    return None


class GumbelTemperatureHook(HookBase):
    """Before each step, `model.temperature` = tau0 · decay^(iteration // epoch length).

    Args:
        tau0, decay: MODEL.DLD.TAU0 and TAU_DECAY.
        iters_per_epoch: the epoch length in iterations; 0: one pass over the trainer's training
            data, ceil(#images / ims_per_batch), counted when training starts.
        ims_per_batch: SOLVER.IMS_PER_BATCH (images per iteration, all processes together).
    """

    def __init__(self, tau0: float, decay: float, iters_per_epoch: int = 0, ims_per_batch: int = 1):
        self.tau0, self.decay = tau0, decay
        self.iters_per_epoch = int(iters_per_epoch)
        self.ims_per_batch = int(ims_per_batch)
        self.epoch_length = None  # iterations; known when training starts

    @classmethod
    def from_config(cls, cfg):
        dld = cfg.MODEL.DLD
        return cls(dld.TAU0, dld.TAU_DECAY, dld.ITERS_PER_EPOCH, cfg.SOLVER.IMS_PER_BATCH)

    def _model(self):
        model = self.trainer.model
        if isinstance(model, (DistributedDataParallel, DataParallel)):
            model = model.module
        return model

    def before_train(self):
        if not hasattr(self._model(), "temperature"):
            raise TypeError(f"{type(self._model()).__name__} has no Gumbel temperature to schedule")
        if self.iters_per_epoch > 0:
            self.epoch_length = self.iters_per_epoch
            return
        num_images = loader_dataset_size(self.trainer.data_loader)
        if num_images is None:
            raise ValueError("the training loader does not tell its dataset size: set "
                             "MODEL.DLD.ITERS_PER_EPOCH to the iterations of one epoch")
        self.epoch_length = schedule.epoch_length(num_images, self.ims_per_batch)
        logger.info("DLD epoch = %d iterations (%d training images, batch %d)",
                    self.epoch_length, num_images, self.ims_per_batch)

    def before_step(self):
        epoch = schedule.epoch_of(self.trainer.iter, self.epoch_length)
        self._model().temperature = schedule.temperature(epoch, self.tau0, self.decay)
