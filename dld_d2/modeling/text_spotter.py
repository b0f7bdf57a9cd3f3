"""`TextSpotter`: Mask R-CNN with a recognition branch; outputs text polygons and transcriptions."""
from typing import Dict, List, Optional, Tuple

import torch
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.structures import ImageList, Instances

from .postprocessing import text_postprocess
from .roi_heads import WordReading


@META_ARCH_REGISTRY.register()
class TextSpotter(GeneralizedRCNN):
    """Detectron2's `GeneralizedRCNN` whose outputs carry text polygons and transcriptions.

    Use with `MODEL.ROI_HEADS.NAME: TextSpottingROIHeads`. Each output dict holds `instances`
    with `pred_boxes`, `scores`, `pred_classes`, `pred_masks` (original image size),
    `pred_polygons`, `pred_texts`, `rec_scores`; and `input_size`, the (h, w) the network saw.

    With `recognition_only` (MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY) training runs the backbone
    and the recognition branch alone: a warm-up of the reader on word sheets before joint training.

    Besides `forward`, three public steps on preprocessed images (`preprocess_image`), which
    DLDSpotter composes: `losses` (training losses on images and targets), `read_words`
    (teacher-forced reading of the GT words) and `spot` (inference).
    """

    @configurable
    def __init__(self, *, recognition_only: bool = False, **kwargs):
        """
        Args:
            recognition_only: training trains the backbone and the recognition branch alone, on
                the GT words (a warm-up on word sheets, MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY):
                the RPN and the box and mask heads are frozen and not run. Inference is unchanged.
            kwargs: the arguments of `GeneralizedRCNN`.
        """
        super().__init__(**kwargs)
        self.recognition_only = recognition_only
        if recognition_only:
            heads = self.roi_heads
            for module in (self.proposal_generator, heads.box_head, heads.box_predictor,
                           heads.mask_head):
                module.requires_grad_(False)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        ret["recognition_only"] = cfg.MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY
        return ret

    def forward(self, batched_inputs: List[Dict]):
        if not (self.training and self.recognition_only):
            return super().forward(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        targets = [x["instances"].to(self.device) for x in batched_inputs]
        return self.losses(images, targets)[0]

    def losses(self, images: ImageList, targets: List[Instances], *, jittered_copies: bool = True
               ) -> Tuple[Dict[str, torch.Tensor], WordReading]:
        """Training losses on `images` and their `targets`, and the reading of the GT words
        the recognition loss scored.

        jittered_copies: also score MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES jittered copies of each
            word (as `forward` does); False: the GT words only, so that the reading matches
            another model's reading of the same targets (distillation).
        """
        features = self.backbone(images.tensor)
        if self.recognition_only:
            return self.roi_heads.word_losses(features, targets, jittered_copies=jittered_copies)
        proposals, losses = self.proposal_generator(images, features, targets)
        roi_losses, reading = self.roi_heads.losses(
            images, features, proposals, targets, jittered_copies=jittered_copies
        )
        losses.update(roi_losses)
        return losses, reading

    def read_words(self, images: ImageList, targets: List[Instances]) -> WordReading:
        """Teacher-forced recognition of the GT words of `targets` (no detection)."""
        return self.roi_heads.read_gt_words(self.backbone(images.tensor), targets)

    def spot(self, images: ImageList, batched_inputs: List[Dict],
             features: Optional[Dict[str, torch.Tensor]] = None) -> List[Dict]:
        """Detect and read the words of `images`; coordinates of each input's "height" and
        "width" (else of the network input), as `forward` outputs them. `features`: the
        backbone's output on `images` when the caller already has it."""
        if features is None:
            features = self.backbone(images.tensor)
        proposals, _ = self.proposal_generator(images, features, None)
        results, _ = self.roi_heads(images, features, proposals, None)
        return self._text_outputs(results, batched_inputs)

    def inference(self, batched_inputs: List[Dict], detected_instances=None, do_postprocess=True):
        if detected_instances is None and do_postprocess:
            return self.spot(self.preprocess_image(batched_inputs), batched_inputs)
        results = super().inference(batched_inputs, detected_instances, do_postprocess=False)
        if not do_postprocess:
            return results
        return self._text_outputs(results, batched_inputs)

    def _text_outputs(self, results: List[Instances], batched_inputs: List[Dict]) -> List[Dict]:
        vocab = self.roi_heads.vocabulary
        out = []
        for res, inp in zip(results, batched_inputs):
            h = inp.get("height", res.image_size[0])
            w = inp.get("width", res.image_size[1])
            out.append(
                {"instances": text_postprocess(res, h, w, vocab), "input_size": res.image_size}
            )
        return out
