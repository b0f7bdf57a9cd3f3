"""Reading with the auxiliary CTC head, alone or to rescore the attention decoder's text
(docs/method.md, "Inference", "Decoding"), pure torch.

The CTC head classifies every encoder position on its own, so it has no notion of which
characters usually follow which: it reads strings outside the training vocabulary (numbers,
codes) without the attention decoder's pull toward words it has seen. Ids as everywhere in the
branch: 0 = GO/pad, which the CTC loss uses as its blank, 1 = EOS (never a CTC label), 2.. =
characters.
"""
import torch
import torch.nn.functional as F

from ...data.vocabulary import EOS_ID
from .attention_decoder import DecodedText

#: CTC's blank symbol (`ctc_loss` trains id 0, never a character, as the blank).
BLANK_ID = 0


def ctc_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Per-position log-probabilities (N, S, C) of CTC logits, EOS excluded (it is never a label)."""
    logits = logits.detach().float().clone()
    logits[..., EOS_ID] = float("-inf")
    return F.log_softmax(logits, dim=-1)


def ctc_sequence_log_prob(log_probs: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """log p(text | positions) under CTC, summed over all alignments: (N,) float32.

    log_probs: (N, S, C) from `ctc_log_probs`; ids: (N, ≥max length) character ids, left-aligned;
    lengths: (N,). A text that no alignment of S positions can produce gets -inf.
    """
    n, steps, _ = log_probs.shape
    if n == 0:
        return log_probs.new_zeros(0)
    width = max(int(lengths.max()), 1)
    targets = ids[:, :width].to(log_probs.device)
    # Padding cells are never read (target lengths); make them a valid label all the same.
    targets = torch.where(targets > EOS_ID, targets, torch.full_like(targets, EOS_ID + 1))
    nll = F.ctc_loss(
        log_probs.transpose(0, 1), targets, torch.full((n,), steps, dtype=torch.long),
        lengths.to(torch.long).cpu(), blank=BLANK_ID, reduction="none", zero_infinity=False,
    )
    return -nll


def ctc_best_path(log_probs: torch.Tensor, max_length: int):
    """(ids (N, max_length), lengths (N,)) of the best path of `ctc_log_probs` output: the
    per-position argmax, repeats merged and blanks dropped, cut at `max_length` characters."""
    n, steps, _ = log_probs.shape
    tokens = log_probs.argmax(-1)  # (N, S)
    previous = torch.cat([tokens.new_full((n, 1), BLANK_ID), tokens[:, :-1]], 1)
    keep = (tokens != BLANK_ID) & (tokens != previous)
    slot = keep.long().cumsum(1) - 1
    keep = keep & (slot < max_length)
    # Kept tokens go to their slot; the rest to a spare column that is cut off.
    column = torch.where(keep, slot, torch.full_like(slot, steps))
    ids = tokens.new_zeros((n, steps + 1)).scatter_(1, column, torch.where(keep, tokens, 0))
    ids = ids[:, :max_length]
    if ids.shape[1] < max_length:
        ids = F.pad(ids, (0, max_length - ids.shape[1]))
    return ids, keep.sum(1)


def ctc_greedy(logits: torch.Tensor, max_length: int) -> DecodedText:
    """Best-path CTC decoding of logits (N, S, C) (`ctc_best_path`).

    Score: exp(log p(text) / (length + 1)), the per-token geometric mean as the attention
    decoder's score (its + 1 counts the EOS), with p(text) summed over all alignments.
    """
    log_probs = ctc_log_probs(logits)
    ids, lengths = ctc_best_path(log_probs, max_length)
    logp = ctc_sequence_log_prob(log_probs, ids, lengths)
    scores = torch.exp(logp / (lengths + 1).to(logp.dtype))
    return DecodedText(ids, lengths, scores.to(torch.float32))
