"""Runs a `TextSpotter` over dataset dicts three ways (its recognizer on the GT boxes with and
without the GT masks, and end to end) and collects the readings in a `ReadingAnalysis`."""
import logging
from typing import Callable, Dict, Iterable, List, Mapping, Optional

import numpy as np
import torch

from .protocol import ProtocolConfig, evaluate_image
from .reading_analysis import Reading, ReadingAnalysis, size_labeller
from .submission import gt_from_dataset_dicts, prepare_predictions

logger = logging.getLogger(__name__)


def _check_model(model):
    from ..modeling.text_spotter import TextSpotter

    if not isinstance(model, TextSpotter):
        raise ValueError(
            f"the reading analysis needs a TextSpotter (MODEL.META_ARCHITECTURE: TextSpotter); "
            f"got {type(model).__name__}. For a DLD model, analyse its teacher's config and weights."
        )


class ReadingProbe:
    """Reads the care words of dataset records with a trained `TextSpotter` in eval mode.

    mapper: the evaluator's input mapper, `TextSpottingDatasetMapper(cfg, is_train=False)`, so
    that the probe sees the images exactly as the evaluation does; score_threshold: detections
    below it are not scored (as the evaluator does).
    """

    def __init__(self, model, mapper, *, score_threshold: float = 0.0,
                 size_of: Optional[Callable] = None,
                 protocol: ProtocolConfig = ProtocolConfig.davar()):
        _check_model(model)
        self.model = model
        self.mapper = mapper
        self.score_threshold = score_threshold
        self.size_of = size_of or size_labeller()
        self.protocol = protocol

    @torch.no_grad()
    def run(self, records: Iterable[Mapping], analysis: Optional[ReadingAnalysis] = None
            ) -> ReadingAnalysis:
        analysis = analysis or ReadingAnalysis()
        was_training = self.model.training
        self.model.eval()
        try:
            for record in records:
                for condition, readings in self.read_record(record).items():
                    analysis.add(condition, readings)
                analysis.images += 1
        finally:
            self.model.train(was_training)
        return analysis

    def read_record(self, record: Mapping) -> Dict[str, List[Reading]]:
        """{condition: readings of the record's care words}."""
        inp = self.mapper(record)
        gt = gt_from_dataset_dicts([record])[str(record["image_id"])]
        care = [i for i, g in enumerate(gt) if not g.dont_care]
        points = [np.asarray(gt[i].points, np.float64).reshape(-1, 2) for i in care]
        sizes = [self.size_of(record, p) for p in points]
        texts = [gt[i].text for i in care]
        out = {}
        # One backbone pass serves the GT readings and the end-to-end result.
        images = self.model.preprocess_image([inp])
        features = self.model.backbone(images.tensor)
        if care:
            # The mapper's test transform is a shortest-edge resize and it does not return it:
            # scale the GT as its ResizeTransform.apply_coords does, by input size / image size.
            in_h, in_w = inp["image"].shape[-2:]
            scale = np.array([in_w * 1.0 / inp["width"], in_h * 1.0 / inp["height"]])
            scaled = [p * scale for p in points]
            p2 = features[self.model.roi_heads.rec_in_feature]
            for condition, masked in (("gt_masked", True), ("gt_unmasked", False)):
                read = self._read_given(p2, scaled, (in_h, in_w), masked)
                out[condition] = [Reading(t, s, r) for t, s, r in zip(texts, sizes, read)]
        spotted = self.model.spot(images, [inp], features)[0]["instances"].to("cpu")
        out["detections"] = self._read_detected(spotted, record, gt, care, texts, sizes)
        return out

    def _read_given(self, p2, polygons, input_hw, masked: bool) -> List[str]:
        from detectron2.structures import polygons_to_bitmask

        heads = self.model.roi_heads
        boxes = torch.tensor([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]
                              for p in polygons], dtype=torch.float32, device=p2.device)
        masks = None
        if masked:
            h, w = input_hw
            masks = [torch.from_numpy(np.stack(
                [polygons_to_bitmask([p.reshape(-1)], h, w) for p in polygons])).to(p2.device)]
        decoded = heads.rec_branch.predict(p2, [boxes], masks, beam_width=heads.beam_width,
                                           **heads.decoder_kwargs())
        vocab = heads.vocabulary
        return [vocab.decode(ids[:n].tolist())
                for ids, n in zip(decoded.ids.cpu(), decoded.lengths.tolist())]

    def _read_detected(self, inst, record, gt, care, texts, sizes) -> List[Reading]:
        keep = [i for i in range(len(inst)) if float(inst.scores[i]) >= self.score_threshold]
        items = [(np.asarray(inst.pred_polygons[i]).reshape(-1).tolist(), inst.pred_texts[i],
                  float(inst.scores[i])) for i in keep]
        key = str(record["image_id"])
        dets, _ = prepare_predictions({key: items}, invalid="hull", sort_by_score=True)
        result = evaluate_image(gt, dets[key], self.protocol)
        read = {g: dets[key][d].text for g, d, _ in result.pairs}
        return [Reading(t, s, read.get(i)) for i, t, s in zip(care, texts, sizes)]
