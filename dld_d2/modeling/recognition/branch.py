"""`RecognitionBranch`: masked RoI extractor → LightCRNN → 2×BiLSTM → attention decoder."""
from typing import List, NamedTuple, Optional

import torch
import torch.nn as nn

from .attention_decoder import AttentionDecoder, DecodedText, decode_greedy
from .ctc_decoding import ctc_best_path, ctc_greedy, ctc_log_probs, ctc_sequence_log_prob
from .encoder import LightCRNN
from .masked_roi import ROI_SIZE, MaskedRoIExtractor
from .sequence import SequenceModule


#: How `RecognitionBranch.decode` reads (MODEL.TEXT_HEAD.DECODER).
DECODERS = ("attention", "ctc", "joint")


class RecognitionOutputs(NamedTuple):
    """One computation of the branch; the distillation reads all three (teacher and student).

    logits: (N, T, num_classes), teacher-forced when targets were given, greedy otherwise;
    roi_features: (N, C, 8, W), the masked RoI feature (W = roi_width, 32 in the paper);
    context: (N, W + 1, C), the BiLSTM output.
    """

    logits: torch.Tensor
    roi_features: torch.Tensor
    context: torch.Tensor


class RecognitionBranch(nn.Module):
    """The text recognition branch of the paper (docs/method.md, "Architecture"), pure torch.

    Args:
        num_classes: vocabulary size including GO/pad (0) and EOS (1); 97 for the built-in set.
        channels: width of every layer the paper sizes at 256 (RoI conv output, LightCRNN,
            BiLSTM hidden per direction and output, decoder hidden).
        in_channels: channels of the P2 input (default: `channels`).
        max_text_len: longest text; the decoder runs max_text_len + 1 steps.
        aux_ctc: also build `ctc_head`, a per-position classifier of the context features for
            an auxiliary CTC loss in training (not in the paper); inference reads with it only
            when asked (`decode`'s "ctc" and "joint" decoders).
        roi_width: width W of the 8×W RoI feature (32 in the paper); the encoder turns it into
            W + 1 sequence positions, so wider RoIs give long words more positions per character.
        roi_supersample: s > 1 averages an s× finer bilinear crop over s×s cells (antialiasing
            for crops shrunk more than 2×, e.g. large text); 1 = the paper's plain bilinear.
        mask_grid: the mask pixel each P2 cell reads, "aligned" or "reference" (`MASK_GRIDS`).
    """

    def __init__(self, num_classes: int = 97, channels: int = 256, in_channels: Optional[int] = None,
                 max_text_len: int = 32, aux_ctc: bool = False, roi_width: int = ROI_SIZE[1],
                 roi_supersample: int = 1, mask_grid: str = "aligned"):
        super().__init__()
        in_channels = channels if in_channels is None else in_channels
        self.num_classes = num_classes
        self.channels = channels
        self.max_text_len = max_text_len
        self.num_steps = max_text_len + 1
        if roi_width < 1:
            raise ValueError(f"roi_width must be >= 1, got {roi_width}")
        self.roi_size = (ROI_SIZE[0], roi_width)
        self.sequence_length = roi_width + 1
        self.roi_extractor = MaskedRoIExtractor(in_channels, channels, roi_width, roi_supersample, mask_grid)
        self.encoder = LightCRNN(channels, channels)
        self.sequence = SequenceModule(channels, channels, num_blocks=2)
        self.decoder = AttentionDecoder(channels, channels, num_classes, self.num_steps)
        self.ctc_head = nn.Linear(channels, num_classes) if aux_ctc else None

    def _empty_outputs(self, p2: torch.Tensor) -> RecognitionOutputs:
        # Zero-size outputs that still hang off every parameter, so that a loss built from them
        # gives each parameter a (zero) gradient: DDP then sees no unused parameters.
        anchor = p2.new_zeros(())
        if torch.is_grad_enabled():
            for p in self.parameters():
                if p.requires_grad:
                    anchor = anchor + p.reshape(-1)[:1].sum().to(p2.dtype) * 0
        c = self.channels
        return RecognitionOutputs(
            p2.new_zeros((0, self.num_steps, self.num_classes)) + anchor,
            p2.new_zeros((0, c) + self.roi_size) + anchor,
            p2.new_zeros((0, self.sequence_length, c)) + anchor,
        )

    def encode(self, p2: torch.Tensor, boxes: List[torch.Tensor],
               masks: Optional[List[Optional[torch.Tensor]]] = None, mask_stride: int = 1):
        """(roi_features N×C×8×W, context N×(W+1)×C) for the given instances (N ≥ 1)."""
        roi = self.roi_extractor(p2, boxes, masks, mask_stride)
        seq = LightCRNN.to_sequence(self.encoder(roi))
        return roi, self.sequence(seq)

    def forward(self, p2: torch.Tensor, boxes: List[torch.Tensor],
                masks: Optional[List[Optional[torch.Tensor]]] = None,
                targets: Optional[torch.Tensor] = None, mask_stride: int = 1) -> RecognitionOutputs:
        """Run the branch on per-image instances.

        Args:
            p2: (B, C_in, H/4, W/4) P2 features of the padded batch.
            boxes: B tensors (n_i, 4), XYXY in network-input pixels (images may have n_i = 0).
            masks: B tensors (n_i, Hm, Wm) (bool/uint8/float) at network-input resolution
                (Detectron2 BitMasks.tensor, or predicted masks pasted at the input size), or
                None for unmasked crops. With `mask_stride` = s they are at 1/s of that size.
            targets: (N, ≥T) long rows [GO], c1..cn, [EOS], 0..., instances in image order;
                given → teacher forcing, None → greedy decoding.
        Returns:
            RecognitionOutputs (logits, roi_features, context), instances in image order.
        """
        n = sum(int(b.shape[0]) for b in boxes)
        if targets is not None and targets.shape[0] != n:
            raise ValueError(f"{targets.shape[0]} target rows for {n} instances")
        if n == 0:
            return self._empty_outputs(p2)
        roi, context = self.encode(p2, boxes, masks, mask_stride)
        logits = self.decoder(context, targets)
        return RecognitionOutputs(logits, roi, context)

    def decode(self, context: torch.Tensor, beam_width: int = 1, decoder: str = "attention",
               ctc_weight: float = 0.5) -> DecodedText:
        """Texts from context features.

        decoder: "attention" (the paper: greedy when beam_width == 1, beam search otherwise);
        "ctc" (best path of `ctc_head`); "joint" (per instance, of the attention text and the CTC
        text, the one with the higher (1 - ctc_weight)·log p_attention + ctc_weight·log p_CTC
        per token; its score is the exp of that).
        """
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if decoder != "attention" and self.ctc_head is None:
            raise ValueError(f"the {decoder!r} decoder needs the CTC head (a branch built with aux_ctc=True)")
        if decoder == "ctc":
            return ctc_greedy(self.ctc_head(context), self.num_steps - 1)
        if beam_width > 1:
            attention = self.decoder.beam_search(context, beam_width)
        elif context.shape[0] == 0:
            return decode_greedy(context.new_zeros((0, self.num_steps, self.num_classes)))
        else:
            attention = decode_greedy(self.decoder.greedy(context)[0])
        if decoder == "attention":
            return attention
        return self._joint(context, attention, ctc_weight)

    def _joint(self, context: torch.Tensor, attention: DecodedText, ctc_weight: float) -> DecodedText:
        """Per instance, the better of the attention text and the CTC text under both readers."""
        log_probs = ctc_log_probs(self.ctc_head(context))
        ctc_ids, ctc_lengths = ctc_best_path(log_probs, self.num_steps - 1)
        # Both texts scored by both readers, in one batch of 2N rows each.
        n = context.shape[0]
        ids = torch.cat([attention.ids, ctc_ids])
        lengths = torch.cat([attention.lengths, ctc_lengths])
        att_logp = self.decoder.sequence_log_prob(torch.cat([context, context]), ids, lengths)
        ctc_logp = ctc_sequence_log_prob(torch.cat([log_probs, log_probs]), ids, lengths)
        per_token = ((1 - ctc_weight) * att_logp + ctc_weight * ctc_logp) / (lengths + 1).to(att_logp.dtype)
        take_ctc = per_token[n:] > per_token[:n]  # ties and two impossible texts keep the attention's
        best = torch.where(take_ctc, per_token[n:], per_token[:n])
        return DecodedText(
            torch.where(take_ctc[:, None], ctc_ids, attention.ids),
            torch.where(take_ctc, ctc_lengths, attention.lengths),
            torch.exp(best).to(torch.float32),
        )

    @torch.no_grad()
    def predict(self, p2: torch.Tensor, boxes: List[torch.Tensor],
                masks: Optional[List[Optional[torch.Tensor]]] = None, beam_width: int = 1,
                mask_stride: int = 1, decoder: str = "attention", ctc_weight: float = 0.5) -> DecodedText:
        """Inference: texts (ids, lengths, scores) for the given instances, in image order
        (`decode` for `beam_width`, `decoder` and `ctc_weight`).

        Call in eval mode (BatchNorm running statistics).
        """
        if sum(int(b.shape[0]) for b in boxes) == 0:
            return self.decode(p2.new_zeros((0, self.sequence_length, self.channels)), 1)
        _, context = self.encode(p2, boxes, masks, mask_stride)
        return self.decode(context, beam_width, decoder, ctc_weight)
