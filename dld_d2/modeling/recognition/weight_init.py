"""Initialisation of the recognition branch (docs/method.md, "Architecture"; DAVAR's
`init_weights`)."""
import torch.nn as nn


def init_recognition_weights(module: nn.Module) -> None:
    """Kaiming-normal (fan_in, ReLU gain) weights, zero biases, BatchNorm γ=1 β=0, in place.

    Applies to every Conv2d / Linear / LSTM / LSTMCell / BatchNorm2d below `module`. Only matters
    when training from scratch: converted or teacher checkpoints overwrite it.
    """
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LSTM, nn.LSTMCell)):
            for name, p in m.named_parameters(recurse=False):
                if name.startswith("weight"):
                    nn.init.kaiming_normal_(p, mode="fan_in", nonlinearity="relu")
                else:
                    nn.init.zeros_(p)
