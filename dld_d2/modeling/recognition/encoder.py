"""LightCRNN: the 6-conv encoder that turns an 8×W masked RoI feature into a (W+1)-step sequence
(8×32 → 33 in the paper)."""
import torch
import torch.nn as nn

from .weight_init import init_recognition_weights

#: Sequence length produced from the paper's 8×32 RoI feature (width + 1 from the (0,1) paddings).
SEQUENCE_LENGTH = 33


def _conv_bn_relu(cin, cout, kernel, stride, padding):
    return [
        nn.Conv2d(cin, cout, kernel_size=kernel, stride=stride, padding=padding),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class LightCRNN(nn.Module):
    """Conv encoder of the recognition branch, N×C×8×W → N×C'×1×(W+1) (docs/method.md,
    "Architecture").

    The layer order inside `convnet` equals DAVAR's `LightCRNN.ConvNet` (same Sequential indices),
    so converted checkpoints only need the prefix renamed.
    """

    def __init__(self, in_channels: int = 256, out_channels: int = 256):
        super().__init__()
        c = in_channels
        layers = []
        for _ in range(4):
            layers += _conv_bn_relu(c, c, 3, 1, 1)
        layers.append(nn.MaxPool2d(kernel_size=2, stride=(2, 1), padding=(0, 1)))  # 4×(W+1)
        layers += _conv_bn_relu(c, c, 2, (2, 1), (0, 1))  # 2×(W+2)
        layers += _conv_bn_relu(c, out_channels, 2, 1, 0)  # 1×(W+1)
        self.convnet = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.out_channels = out_channels
        init_recognition_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N×C×8×W → N×C'×1×(W+1)."""
        return self.convnet(x)

    @staticmethod
    def to_sequence(feat: torch.Tensor) -> torch.Tensor:
        """N×C×H×W → N×(H·W)×C (DAVAR flattens H×W; H is 1 here)."""
        n, c, h, w = feat.shape
        return feat.reshape(n, c, h * w).permute(0, 2, 1)
