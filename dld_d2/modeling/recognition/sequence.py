"""Sequence module: two stacked BiLSTM + Linear blocks producing the "context feature"."""
import torch
import torch.nn as nn

from .weight_init import init_recognition_weights


class BidirectionalLSTM(nn.Module):
    """One bidirectional LSTM layer (hidden H per direction, batch-first) + Linear(2H → out)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers=1, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(2 * hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N×L×input_size → N×L×output_size."""
        # Keeps cuDNN weights contiguous (e.g. after .to(device) or DataParallel replication).
        self.rnn.flatten_parameters()
        out, _ = self.rnn(x)
        return self.linear(out)


class SequenceModule(nn.Module):
    """`num_blocks` BiLSTM blocks, N×L×C → N×L×C: the context feature (docs/method.md,
    "Architecture")."""

    def __init__(self, channels: int = 256, hidden_size: int = None, num_blocks: int = 2):
        super().__init__()
        hidden_size = channels if hidden_size is None else hidden_size
        self.blocks = nn.ModuleList(
            [BidirectionalLSTM(channels, hidden_size, channels) for _ in range(num_blocks)]
        )
        init_recognition_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
