"""`TextSpotter`: Mask R-CNN with a recognition branch; outputs text polygons and transcriptions."""
from typing import Dict, List, Optional, Tuple

import torch
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

    Besides `forward`, three public steps on preprocessed images (`preprocess_image`), which
    DLDSpotter composes: `losses` (training losses on images and targets), `read_words`
    (teacher-forced reading of the GT words) and `spot` (inference).
    """

    def losses(self, images: ImageList, targets: List[Instances], *, jittered_copies: bool = True
               ) -> Tuple[Dict[str, torch.Tensor], WordReading]:
        """Training losses on `images` and their `targets`, and the reading of the GT words
        the recognition loss scored.

        jittered_copies: also score MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES jittered copies of each
            word (as `forward` does); False: the GT words only, so that the reading matches
            another model's reading of the same targets (distillation).
        """
        features = self.backbone(images.tensor)
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
