"""Additive-attention decoder (deep-text-recognition-benchmark's AttentionCell; docs/method.md,
"Architecture").

Three ways to run it over the context feature H (N×L×C):
- `forward(H, targets)`: teacher forcing, the symbol fed at step t is targets[:, t];
- `forward(H)` / `greedy(H)`: the previous step's argmax is fed, always T steps;
- `beam_search(H, width)`: length-normalised beam search with log-probabilities.

Texts come back as a `DecodedText` of class ids (0 = GO/pad, 1 = EOS, 2.. = characters).
Recognition score: exp of the mean log-probability of the decoded tokens, i.e. the geometric
mean of the chosen probabilities over the characters and the terminating EOS (when one was
emitted within T steps). Greedy and beam search report the same quantity, so their scores
compare; it is also the beam's ranking criterion.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...data.vocabulary import EOS_ID, GO_ID, PAD_ID
from .beam_search import beam_step, init_beam, rank_beams
from .weight_init import init_recognition_weights


class DecodedText(NamedTuple):
    """Per-instance decoding result.

    ids: (N, T-1) long, character ids of each text from the left, 0 after its end (EOS removed);
    lengths: (N,) long, number of characters; scores: (N,) float32 in [0, 1] (module docstring).
    """

    ids: torch.Tensor
    lengths: torch.Tensor
    scores: torch.Tensor


class AttentionCell(nn.Module):
    """One decoder step: additive attention over H, then an LSTMCell on [context, one-hot(prev)]."""

    def __init__(self, input_size: int, hidden_size: int, num_embeddings: int):
        super().__init__()
        self.i2h = nn.Linear(input_size, hidden_size, bias=False)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.rnn = nn.LSTMCell(input_size + num_embeddings, hidden_size)
        self.hidden_size = hidden_size

    def forward(self, prev_hidden, batch_h, batch_h_proj, char_onehots):
        """prev_hidden: (h, c); batch_h: N×L×C; batch_h_proj = i2h(batch_h), computed once per
        sequence by the caller (it does not change between steps). Returns ((h, c), alpha)."""
        prev_proj = self.h2h(prev_hidden[0]).unsqueeze(1)
        e = self.score(torch.tanh(batch_h_proj + prev_proj))  # N×L×1
        alpha = F.softmax(e, dim=1)
        context = torch.bmm(alpha.transpose(1, 2), batch_h).squeeze(1)  # N×C
        return self.rnn(torch.cat([context, char_onehots], 1), prev_hidden), alpha


class AttentionDecoder(nn.Module):
    """Attention decoder: `num_steps` = max text length + 1 steps over `num_classes` classes."""

    def __init__(self, input_size: int = 256, hidden_size: int = 256, num_classes: int = 97,
                 num_steps: int = 33):
        super().__init__()
        self.attention_cell = AttentionCell(input_size, hidden_size, num_classes)
        self.generator = nn.Linear(hidden_size, num_classes)
        self.hidden_size = hidden_size
        self.num_classes = num_classes
        self.num_steps = num_steps
        init_recognition_weights(self)

    def _start(self, batch_h):
        n = batch_h.shape[0]
        zeros = batch_h.new_zeros((n, self.hidden_size))
        return (zeros, zeros.clone()), self.attention_cell.i2h(batch_h)

    def _onehot(self, symbols, like):
        return F.one_hot(symbols, self.num_classes).to(like.dtype)

    def forward(self, batch_h: torch.Tensor, targets: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits N×T×num_classes: teacher-forced on `targets` (N×≥T, row t = symbol fed at
        step t: [GO], c1..cn, [EOS], pads) when given, greedy otherwise."""
        if targets is None:
            return self.greedy(batch_h)[0]
        if targets.shape[1] < self.num_steps:
            raise ValueError(f"targets have {targets.shape[1]} columns; need >= {self.num_steps}")
        hidden, proj = self._start(batch_h)
        onehots = self._onehot(targets[:, : self.num_steps].to(batch_h.device), batch_h)
        outs = []
        for t in range(self.num_steps):
            hidden, _ = self.attention_cell(hidden, batch_h, proj, onehots[:, t])
            outs.append(hidden[0])
        # One generator matmul for all steps instead of one per step.
        return self.generator(torch.stack(outs, 1))

    def greedy(self, batch_h: torch.Tensor):
        """Greedy decoding from [GO], always T steps. Returns (logits N×T×C, symbols N×T)."""
        n = batch_h.shape[0]
        hidden, proj = self._start(batch_h)
        prev = torch.full((n,), GO_ID, dtype=torch.long, device=batch_h.device)
        logits, symbols = [], []
        for _ in range(self.num_steps):
            hidden, _ = self.attention_cell(hidden, batch_h, proj, self._onehot(prev, batch_h))
            step = self.generator(hidden[0])
            prev = step.argmax(1)
            logits.append(step)
            symbols.append(prev)
        return torch.stack(logits, 1), torch.stack(symbols, 1)

    @torch.no_grad()
    def sequence_log_prob(self, batch_h: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """log p(text, EOS | H) under teacher forcing: (N,) float32, for texts given as
        left-aligned character ids (N, ≥max length) and lengths (N,) (at most T-1 characters)."""
        n = batch_h.shape[0]
        if n == 0:
            return batch_h.new_zeros(0, dtype=torch.float32)
        if int(lengths.max()) > self.num_steps - 1:
            raise ValueError(f"texts of up to {self.num_steps - 1} characters; got {int(lengths.max())}")
        pos = torch.arange(self.num_steps + 1, device=batch_h.device)[None, :]
        lengths = lengths.to(batch_h.device)[:, None]
        width = min(ids.shape[1], self.num_steps - 1)
        chars = ids.new_zeros((n, self.num_steps + 1)).to(batch_h.device)
        chars[:, 1 : width + 1] = ids[:, :width].to(batch_h.device)  # column t + 1 = character t
        targets = torch.where(pos <= lengths, chars, torch.zeros_like(chars))
        targets = torch.where(pos == lengths + 1, torch.full_like(targets, EOS_ID), targets)
        targets[:, 0] = GO_ID
        logp = F.log_softmax(self.forward(batch_h, targets).float(), dim=-1)
        gold = targets[:, 1:]
        picked = logp.gather(2, gold[..., None])[..., 0]
        return (picked * (gold != PAD_ID)).sum(1)

    @torch.no_grad()
    def beam_search(self, batch_h: torch.Tensor, beam_width: int = 5) -> DecodedText:
        """Beam search (log-probs, length-normalised, finished beams kept) → best hypothesis."""
        n, steps = batch_h.shape[0], self.num_steps
        if beam_width <= 1 or n == 0:
            return decode_greedy(self.greedy(batch_h)[0])
        # More slots than emittable classes (all but GO) would leave empty slots.
        w = min(beam_width, self.num_classes - 1)
        hb = batch_h.repeat_interleave(w, 0)  # slot-major per instance: row = i*W + slot
        hidden, proj = self._start(hb)
        state = init_beam(n, w, steps, batch_h.device)
        prev = torch.full((n * w,), GO_ID, dtype=torch.long, device=batch_h.device)
        base = (torch.arange(n, device=batch_h.device) * w)[:, None]
        for t in range(steps):
            hidden, _ = self.attention_cell(hidden, hb, proj, self._onehot(prev, hb))
            logp = F.log_softmax(self.generator(hidden[0]).float(), dim=-1).view(n, w, -1)
            state, parent, symbol = beam_step(state, logp, t, EOS_ID)
            rows = (base + parent).reshape(-1)
            hidden = (hidden[0][rows], hidden[1][rows])
            prev = symbol.reshape(-1)
            if bool(state.finished.all()):
                break
        best = rank_beams(state)[:, :1]
        tokens = state.tokens.gather(1, best[..., None].expand(n, 1, steps))[:, 0]
        scores = state.scores.gather(1, best)[:, 0]
        lengths = state.lengths.gather(1, best)[:, 0]
        return _texts_from_tokens(tokens, scores, lengths)


def _texts_from_tokens(tokens: torch.Tensor, logp_sum: torch.Tensor, num_scored: torch.Tensor) -> DecodedText:
    """tokens (N, T): hypothesis tokens, EOS-terminated or T long → DecodedText (T-1 columns)."""
    n, steps = tokens.shape
    pos = torch.arange(steps, device=tokens.device)
    is_eos = tokens == EOS_ID
    first_eos = torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full_like(num_scored, steps))
    # Text = characters before the first EOS, at most T-1 of them (the last step only ever
    # legitimately emits EOS); without any EOS the whole T-1 string is kept (docs/method.md,
    # "Differences from the paper and the reference code").
    lengths = first_eos.clamp(max=steps - 1)
    ids = torch.where(pos[None, :] < lengths[:, None], tokens, torch.full_like(tokens, PAD_ID))[:, : steps - 1]
    scores = torch.exp(logp_sum / num_scored.clamp(min=1).to(logp_sum.dtype))
    return DecodedText(ids, lengths, scores.to(torch.float32))


def decode_greedy(logits: torch.Tensor) -> DecodedText:
    """Texts from greedy logits (N×T×C): per-step argmax, cut at the first EOS.

    The score covers the tokens up to and including the first EOS (all T when none).
    """
    n, steps, _ = logits.shape
    if n == 0:
        empty = torch.zeros((0, steps - 1), dtype=torch.long, device=logits.device)
        return DecodedText(empty, empty.new_zeros(0), logits.new_zeros(0, dtype=torch.float32))
    logp = F.log_softmax(logits.detach().float(), dim=-1)
    best_logp, tokens = logp.max(-1)
    is_eos = tokens == EOS_ID
    steps_t = torch.full((n,), steps, dtype=torch.long, device=logits.device)
    num_scored = torch.where(is_eos.any(1), is_eos.float().argmax(1) + 1, steps_t)
    pos = torch.arange(steps, device=logits.device)
    logp_sum = (best_logp * (pos[None, :] < num_scored[:, None])).sum(1)
    return _texts_from_tokens(tokens, logp_sum, num_scored)
