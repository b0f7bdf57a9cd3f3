"""The Gumbel-softmax temperature schedule of the selector: τ0 · decay^epoch, constant within an
epoch (docs/method.md, "Temperature and penalty"). Pure functions; the engine's
`GumbelTemperatureHook` applies them during training."""
import math


def temperature(epoch: int, tau0: float = 5.0, decay: float = 0.965) -> float:
    """Gumbel-softmax temperature τ0·decay^epoch (0-based epoch, constant within an epoch)."""
    return tau0 * decay**epoch


def epoch_length(num_images: int, ims_per_batch: int) -> int:
    """Iterations in one pass over the dataset: ceil(num_images / ims_per_batch), at least 1."""
    if ims_per_batch <= 0:
        raise ValueError(f"ims_per_batch must be positive, got {ims_per_batch}")
    return max(1, math.ceil(num_images / ims_per_batch))


def epoch_of(iteration: int, iterations_per_epoch: int) -> int:
    """0-based epoch index of a 0-based iteration."""
    return iteration // iterations_per_epoch
