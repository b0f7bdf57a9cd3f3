"""`TextSpottingROIHeads`: Detectron2's standard box and mask heads plus a text head (the
recognizer named by MODEL.TEXT_HEAD.NAME)."""
from typing import Dict, List, NamedTuple, Tuple

import numpy as np
import torch
import torch.nn as nn
from detectron2.config import configurable
from detectron2.layers import paste_masks_in_image
from detectron2.modeling import ROI_HEADS_REGISTRY, StandardROIHeads
from detectron2.structures import Boxes, Instances, polygons_to_bitmask

from ..data.vocabulary import Vocabulary
from .recognition import DECODERS, FEATURE_STRIDE, RecognitionOutputs, ctc_loss, recognition_loss
from .text_head import build_text_head


class WordReading(NamedTuple):
    """A teacher-forced reading of the GT words of a batch, instances in batch order.

    outputs: the text head's logits, RoI features and context features (what the distillation
    compares between teacher and student); text_targets: (N, L+2) the words' target rows.
    """

    outputs: RecognitionOutputs
    text_targets: torch.Tensor


def rasterize_gt_masks(instances: Instances, height: int, width: int, stride: int) -> torch.Tensor:
    """GT polygon masks of one image rasterised at 1/`stride` of the network input, (n, h, w) bool.

    Rasterising the polygons directly at the feature stride stands in for the reference's
    full-resolution bitmaps that are then nearest-downscaled: the same masks at 1/16 of the cost.
    """
    polys = instances.gt_masks.polygons
    out = np.zeros((len(polys), height, width), dtype=bool)
    for i, parts in enumerate(polys):
        out[i] = polygons_to_bitmask([p / stride for p in parts], height, width)
    return torch.from_numpy(out).to(instances.gt_boxes.device)


@ROI_HEADS_REGISTRY.register()
class TextSpottingROIHeads(StandardROIHeads):
    """Box and mask heads as `StandardROIHeads`, plus an end-to-end text head on P2.

    Training: the text head reads GT boxes and GT masks (docs/method.md, "Masked RoI
    features") and adds `loss_att`.
    Inference: it reads the predicted boxes and the predicted masks pasted at the network-input
    size, and adds `pred_text_ids` (N×T long), `pred_text_lengths` and `rec_scores` per image,
    plus `pred_input_masks` (the pasted masks, for polygon extraction by the meta-architecture).
    """

    @configurable
    def __init__(
        self,
        *,
        rec_branch: nn.Module,
        rec_in_feature: str,
        vocabulary: Vocabulary,
        rec_loss_weight: float = 1.0,
        beam_width: int = 1,
        decoder: str = "attention",
        joint_ctc_weight: float = 0.5,
        mask_threshold: float = 0.5,
        train_jitter_copies: int = 0,
        train_jitter_ratio: float = 0.1,
        aux_ctc_weight: float = 0.0,
        **kwargs,
    ):
        """
        Args:
            rec_branch: the text head (`build_text_head`; MODEL.TEXT_HEAD.NAME).
            rec_in_feature: name of the stride-4 feature map it reads (P2).
            vocabulary: maps text ids to strings (kept here so the model can decode its output).
            rec_loss_weight: weight of `loss_att`.
            beam_width: 1 = greedy decoding at inference, > 1 = beam search.
            decoder: how inference reads: "attention" (the paper), "ctc" (the auxiliary CTC
                head) or "joint" (the better of the two texts under both; `RecognitionBranch.decode`).
            joint_ctc_weight: the CTC log-probability's share of the "joint" decoder's score.
            mask_threshold: binarisation threshold of the predicted masks fed to recognition.
            train_jitter_copies: extra copies of each GT word fed to `loss_att` in training, with
                boxes jittered by up to `train_jitter_ratio` of their size per side: more
                recognition samples per image for little compute, and boxes as imprecise as the
                predicted ones read at inference (0 = the paper's recipe).
            aux_ctc_weight: weight of `loss_ctc`, an auxiliary CTC loss on the context features
                (needs a branch built with `aux_ctc=True`; 0 = the paper's recipe).
            kwargs: the arguments of `StandardROIHeads`.
        """
        super().__init__(**kwargs)
        if not self.mask_on:
            raise ValueError("TextSpottingROIHeads needs the mask head: set MODEL.MASK_ON True")
        self.rec_branch = rec_branch
        self.rec_in_feature = rec_in_feature
        self.vocabulary = vocabulary
        self.rec_loss_weight = rec_loss_weight
        self.beam_width = beam_width
        self.mask_threshold = mask_threshold
        self.train_jitter_copies = train_jitter_copies
        self.train_jitter_ratio = train_jitter_ratio
        if aux_ctc_weight > 0 and getattr(rec_branch, "ctc_head", None) is None:
            raise ValueError("aux_ctc_weight > 0 needs a text head with a `ctc_head` (a "
                             "RecognitionBranch built with aux_ctc=True)")
        self.aux_ctc_weight = aux_ctc_weight
        if decoder not in DECODERS:
            raise ValueError(f"MODEL.TEXT_HEAD.DECODER must be one of {DECODERS}, got {decoder!r}")
        if decoder != "attention" and getattr(rec_branch, "ctc_head", None) is None:
            raise ValueError(
                f"MODEL.TEXT_HEAD.DECODER {decoder!r} reads with the CTC head, which only a model "
                "trained with MODEL.TEXT_HEAD.AUX_CTC_WEIGHT > 0 has"
            )
        if not 0.0 <= joint_ctc_weight <= 1.0:
            raise ValueError(f"MODEL.TEXT_HEAD.JOINT_CTC_WEIGHT must be in [0, 1], got {joint_ctc_weight}")
        self.text_decoder = decoder
        self.joint_ctc_weight = joint_ctc_weight

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        vocab = Vocabulary.from_spec(cfg.MODEL.TEXT_HEAD.VOCABULARY or None)
        in_feature = cfg.MODEL.TEXT_HEAD.IN_FEATURE
        if input_shape[in_feature].stride != FEATURE_STRIDE:
            raise ValueError(
                f"MODEL.TEXT_HEAD.IN_FEATURE={in_feature!r} has stride "
                f"{input_shape[in_feature].stride}; the recognition branch needs stride {FEATURE_STRIDE}"
            )
        ret.update(
            rec_branch=build_text_head(cfg, input_shape[in_feature], len(vocab)),
            rec_in_feature=in_feature,
            vocabulary=vocab,
            rec_loss_weight=cfg.MODEL.TEXT_HEAD.LOSS_WEIGHT,
            beam_width=cfg.MODEL.TEXT_HEAD.BEAM_WIDTH,
            decoder=cfg.MODEL.TEXT_HEAD.DECODER,
            joint_ctc_weight=cfg.MODEL.TEXT_HEAD.JOINT_CTC_WEIGHT,
            train_jitter_copies=cfg.MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES,
            train_jitter_ratio=cfg.MODEL.TEXT_HEAD.TRAIN_JITTER_RATIO,
            aux_ctc_weight=cfg.MODEL.TEXT_HEAD.AUX_CTC_WEIGHT,
        )
        return ret

    def decoder_kwargs(self) -> dict:
        """The CTC decoders' arguments of the text head's `predict`; none for the attention
        decoder, so that recognizers without a CTC head keep the plain interface."""
        if self.text_decoder == "attention":
            return {}
        return {"decoder": self.text_decoder, "ctc_weight": self.joint_ctc_weight}

    # The vocabulary's hash travels in checkpoints (as this module's extra state) so that weights
    # trained with one character set are never silently read with another.
    def get_extra_state(self):
        return torch.tensor(list(self.vocabulary.hash.encode("ascii")), dtype=torch.uint8)

    def set_extra_state(self, state):
        saved = bytes(state.tolist()).decode("ascii")
        if saved != self.vocabulary.hash:
            raise ValueError(
                f"This checkpoint was trained with a different vocabulary (hash {saved}) than the "
                f"model's ({self.vocabulary.hash}, {self.vocabulary!r}, from "
                "MODEL.TEXT_HEAD.VOCABULARY). Set MODEL.TEXT_HEAD.VOCABULARY to the character set "
                "the checkpoint was trained with."
            )

    def forward(self, images, features, proposals, targets=None):
        if not self.training:
            return super().forward(images, features, proposals, targets)
        losses, _ = self.losses(images, features, proposals, targets)
        return [], losses  # Detectron2's ROIHeads may return no instances in training

    def losses(self, images, features, proposals, targets, *, jittered_copies: bool = True
               ) -> Tuple[Dict[str, torch.Tensor], WordReading]:
        """Training: the box and mask losses of `StandardROIHeads`, then `loss_att` (and
        `loss_ctc`) of the GT words, with `train_jitter_copies` jittered copies of each when
        `jittered_copies`; and that reading of the words."""
        _, losses = super().forward(images, features, proposals, targets)
        word_losses, reading = self.word_losses(features, targets, jittered_copies=jittered_copies)
        losses.update(word_losses)
        return losses, reading

    def word_losses(self, features, targets, *, jittered_copies: bool = True
                    ) -> Tuple[Dict[str, torch.Tensor], WordReading]:
        """`loss_att` (and `loss_ctc`) of the GT words of `targets`, with `train_jitter_copies`
        jittered copies of each when `jittered_copies`; and that reading of the words."""
        words = self._with_jittered_copies(targets) if jittered_copies else targets
        reading = self.read_gt_words(features, words)
        return self.recognition_losses(*reading), reading

    def recognition_losses(self, outputs: RecognitionOutputs, text_targets: torch.Tensor):
        """`loss_att` (and `loss_ctc` when enabled) of teacher-forced GT recognition outputs."""
        losses = {"loss_att": recognition_loss(outputs.logits, text_targets) * self.rec_loss_weight}
        if self.aux_ctc_weight > 0:
            ctc_logits = self.rec_branch.ctc_head(outputs.context)
            losses["loss_ctc"] = ctc_loss(ctc_logits, text_targets) * self.aux_ctc_weight
        return losses

    def _with_jittered_copies(self, targets: List[Instances]) -> List[Instances]:
        if self.train_jitter_copies <= 0:
            return targets
        out = []
        for t in targets:
            copies = [t]
            boxes = t.gt_boxes.tensor
            wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
            h, w = t.image_size
            limit = boxes.new_tensor([w, h, w, h])
            for _ in range(self.train_jitter_copies):
                c = t[torch.arange(len(t), device=boxes.device)]
                noise = (torch.rand_like(boxes) * 2 - 1) * self.train_jitter_ratio * wh
                c.gt_boxes = Boxes(torch.minimum((boxes + noise).clamp(min=0), limit))
                copies.append(c)
            out.append(Instances.cat(copies))
        return out

    def read_gt_words(self, features: Dict[str, torch.Tensor], targets: List[Instances]) -> WordReading:
        """Teacher-forced recognition of the GT instances of a batch (their boxes and masks)."""
        p2 = features[self.rec_in_feature]
        h, w = p2.shape[-2:]
        boxes = [t.gt_boxes.tensor for t in targets]
        masks = [rasterize_gt_masks(t, h, w, FEATURE_STRIDE) for t in targets]
        text_targets = torch.cat([t.gt_texts for t in targets]).to(p2.device)
        outputs: RecognitionOutputs = self.rec_branch(
            p2, boxes, masks, targets=text_targets, mask_stride=FEATURE_STRIDE
        )
        return WordReading(outputs, text_targets)

    def forward_with_given_boxes(self, features, instances: List[Instances]):
        instances = super().forward_with_given_boxes(features, instances)
        p2 = features[self.rec_in_feature]
        masks = [
            paste_masks_in_image(
                x.pred_masks[:, 0], x.pred_boxes.tensor, x.image_size, threshold=self.mask_threshold
            )
            for x in instances
        ]
        decoded = self.rec_branch.predict(
            p2, [x.pred_boxes.tensor for x in instances], masks, beam_width=self.beam_width,
            **self.decoder_kwargs(),
        )
        start = 0
        for x, m in zip(instances, masks):
            n = len(x)
            x.pred_text_ids = decoded.ids[start : start + n]
            x.pred_text_lengths = decoded.lengths[start : start + n]
            x.rec_scores = decoded.scores[start : start + n]
            x.pred_input_masks = m
            start += n
        return instances
