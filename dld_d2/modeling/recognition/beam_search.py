"""Vectorised, length-normalised beam search shared by inference decoding and sequence KD.

A hypothesis is a token sequence y_1..y_k that ends at its first EOS (inclusive) or at the step
limit. Its score is Σ log p(y_t); beams are ranked by the length-normalised score
Σ log p / k. Finished hypotheses stay in the beam (extended only by a free pad token), so they
keep competing with the unfinished ones on that normalised score — the best-first criterion of
DAVAR's teacher search (average per emitted symbol), with log-probabilities instead of
probabilities (docs/method.md, "Training step"). Class 0 (GO/pad) is never emitted.
"""
from typing import NamedTuple

import torch

from ...data.vocabulary import PAD_ID


class BeamState(NamedTuple):
    scores: torch.Tensor  # (N, W) float32: Σ log p of each hypothesis (-inf = empty slot)
    lengths: torch.Tensor  # (N, W) long: tokens scored so far (EOS included)
    finished: torch.Tensor  # (N, W) bool
    tokens: torch.Tensor  # (N, W, T) long: emitted tokens, PAD after the end


def init_beam(n: int, width: int, steps: int, device) -> BeamState:
    """One live root per instance (slot 0); the other slots are empty until the first step."""
    scores = torch.full((n, width), float("-inf"), device=device)
    scores[:, 0] = 0.0
    return BeamState(
        scores,
        torch.zeros((n, width), dtype=torch.long, device=device),
        torch.zeros((n, width), dtype=torch.bool, device=device),
        torch.zeros((n, width, steps), dtype=torch.long, device=device),
    )


def beam_step(state: BeamState, step_logp: torch.Tensor, t: int, eos_id: int):
    """Extend every hypothesis by one token and keep the best W.

    step_logp: (N, W, C) log-probabilities of the next token for each current hypothesis.
    Returns (new_state, parent (N, W) long, symbol (N, W) long); `parent` indexes the old
    slots so that callers can reorder their recurrent state.
    """
    n, width, num_classes = step_logp.shape
    scores, lengths, finished, tokens = state
    cand = scores[..., None] + step_logp.float()
    # GO/pad (id 0) is never a real token (it is never a training target): do not emit it.
    cand[..., PAD_ID] = float("-inf")
    # A finished hypothesis has exactly one continuation, PAD, which costs nothing.
    frozen = torch.full_like(cand, float("-inf"))
    frozen[..., PAD_ID] = scores
    cand = torch.where(finished[..., None], frozen, cand)
    new_len = torch.where(finished, lengths, lengths + 1)  # ≥ 1 after the first step
    key = cand / new_len[..., None].to(cand.dtype)
    _, flat = key.reshape(n, width * num_classes).topk(width, dim=1)
    parent = torch.div(flat, num_classes, rounding_mode="floor")
    symbol = flat % num_classes
    new_scores = cand.reshape(n, -1).gather(1, flat)
    par_finished = finished.gather(1, parent)
    new_finished = par_finished | (symbol == eos_id)
    new_lengths = new_len.gather(1, parent)
    new_tokens = tokens.gather(1, parent[..., None].expand_as(tokens)).clone()
    new_tokens[:, :, t] = torch.where(par_finished, torch.full_like(symbol, PAD_ID), symbol)
    return BeamState(new_scores, new_lengths, new_finished, new_tokens), parent, symbol


def rank_beams(state: BeamState):
    """Order (N, W) slots best first by length-normalised score. Returns the sort index."""
    key = state.scores / state.lengths.clamp(min=1).to(state.scores.dtype)
    return key.argsort(dim=1, descending=True)


def beam_search_fixed_rows(logp: torch.Tensor, beam_width: int = 5, topk: int = 1, eos_id: int = 1):
    """Beam search over per-step distributions that do not depend on the prefix.

    This is the teacher search of sequence KD (docs/method.md, "Training step"): the rows are
    the teacher's teacher-forced log-softmax outputs, so step t of every hypothesis reads row t.

    Args:
        logp: (N, T, C) log-probabilities.
    Returns:
        paths (N, topk, T) long (PAD after each path's end) and lengths (N, topk) long: the
        number of scored tokens of each path (its final EOS included; T when no EOS was emitted).
    """
    n, steps, num_classes = logp.shape
    # More slots than emittable classes would leave empty (-inf) slots after the first step.
    beam_width = min(beam_width, num_classes - 1)
    if not 1 <= topk <= beam_width:
        raise ValueError(f"need 1 <= topk ({topk}) <= min(beam_width, classes - 1) ({beam_width})")
    state = init_beam(n, beam_width, steps, logp.device)
    for t in range(steps):
        row = logp[:, t, None, :].expand(n, beam_width, num_classes)
        state, _, _ = beam_step(state, row, t, eos_id)
    order = rank_beams(state)[:, :topk]
    paths = state.tokens.gather(1, order[..., None].expand(n, topk, steps))
    return paths, state.lengths.gather(1, order)
