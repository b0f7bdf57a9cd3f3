"""`TextSpottingEvaluator`: Detectron2's DatasetEvaluator for the ICDAR end-to-end protocol."""
import copy
import itertools
import json
import logging
import os
from collections import OrderedDict

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from .lexicon import LEXICON_KINDS, apply_lexicon, load_lexicons
from .protocol import ProtocolConfig, evaluate
from .submission import (
    gt_from_dataset_dicts,
    prediction_items,
    prepare_predictions,
    write_submission_zip,
)

logger = logging.getLogger(__name__)


class TextSpottingEvaluator(DatasetEvaluator):
    """Detection, end-to-end and word-spotting precision / recall / hmean, per lexicon.

    The numbers are those of the official ICDAR scripts (DAVAR `script.py`) on the submission
    this evaluator writes: predictions sorted by score, integer coordinates, invalid polygons
    repaired by their convex hull, commas removed. Results are percentages, in Detectron2's
    `{"text_spotting": {metric: value}}` form, with metric names `det_{precision,recall,hmean}`,
    `e2e_{lexicon}_{...}`, `ws_{lexicon}_{...}`, and, when the model reports them per image
    (`input_size`, `gflops` in its output dicts), `mean_input_short_side` and `mean_gflops`.
    Files (only under `output_dir`): `text_predictions.json`, `submission.zip`, `text_results.json`.
    """

    def __init__(
        self,
        dataset_name,
        *,
        output_dir=None,
        lexicons=None,
        lexicon_types=(),
        lexicon_rule="davar",
        iou_threshold=0.5,
        word_spotting=True,
        score_threshold=0.0,
        distributed=True,
    ):
        """
        Args:
            dataset_name: a registered dataset; its dicts are the ground truth.
            output_dir: where predictions, the submission zip and results are written (None: nowhere).
            lexicons: {lexicon type: path}; default: the dataset metadata's `lexicons`.
            lexicon_types: the lexicons to score with; empty = "none" + every one in `lexicons`.
            lexicon_rule: "davar" (nearest word, never dropped) or "pairs" (AdelaiDet pair lists).
            iou_threshold: a detection matches a GT when IoU > this.
            word_spotting: also score word spotting.
            score_threshold: detections below it are ignored (the model's own test threshold).
            distributed: gather predictions from all processes before scoring.
        """
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._distributed = distributed
        self._score_threshold = score_threshold
        self._iou_threshold = iou_threshold
        self._word_spotting = word_spotting
        self._lexicon_rule = lexicon_rule
        if lexicons is None:
            lexicons = getattr(MetadataCatalog.get(dataset_name), "lexicons", {}) or {}
        types = list(lexicon_types) or ["none"] + [t for t in LEXICON_KINDS if t in lexicons]
        self._lexicons = OrderedDict()
        for kind in types:
            if kind not in LEXICON_KINDS:
                raise ValueError(f"unknown lexicon type {kind!r}; expected one of {LEXICON_KINDS}")
            if kind == "none":
                self._lexicons[kind] = None
                continue
            path = lexicons.get(kind)
            if path is None:
                raise ValueError(
                    f"lexicon {kind!r} was asked for (TEST.TEXT.LEXICONS) but dataset "
                    f"{dataset_name!r} has no such lexicon in its metadata"
                )
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"{kind} lexicon of dataset {dataset_name!r} not found: {path} "
                    "(see datasets/README.md, or leave it out with TEST.TEXT.LEXICONS)"
                )
            self._lexicons[kind] = load_lexicons(kind, path)
        self.reset()

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None):
        return cls(
            dataset_name,
            output_dir=output_dir,
            lexicon_types=cfg.TEST.TEXT.LEXICONS,
            lexicon_rule=cfg.TEST.TEXT.LEXICON_RULE,
            iou_threshold=cfg.TEST.TEXT.IOU_THRESH,
            word_spotting=cfg.TEST.TEXT.WORD_SPOTTING,
            score_threshold=cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST,
        )

    def reset(self):
        self._predictions = []

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            inst = out["instances"].to("cpu")
            keep = (inst.scores >= self._score_threshold).nonzero().flatten().tolist()
            record = {
                "image_id": str(inp["image_id"]),
                "instances": [
                    {
                        "polygon": np.asarray(inst.pred_polygons[i]).reshape(-1).tolist(),
                        "text": inst.pred_texts[i],
                        "score": float(inst.scores[i]),
                        "rec_score": float(inst.rec_scores[i]),
                    }
                    for i in keep
                ],
            }
            if "input_size" in out:
                record["input_size"] = [int(v) for v in out["input_size"]]
            if "gflops" in out:
                record["gflops"] = float(out["gflops"])
            if "scale" in out:
                record["scale"] = float(out["scale"])
            self._predictions.append(record)

    def evaluate(self):
        if self._distributed:
            comm.synchronize()
            predictions = list(itertools.chain(*comm.gather(self._predictions, dst=0)))
            if not comm.is_main_process():
                return {}
        else:
            predictions = self._predictions
        if not predictions:
            logger.warning("[TextSpottingEvaluator] no predictions to evaluate")
            return {}
        if self._output_dir:
            os.makedirs(self._output_dir, exist_ok=True)
            with open(os.path.join(self._output_dir, "text_predictions.json"), "w") as f:
                json.dump(predictions, f)
        results = self._score(predictions)
        if self._output_dir:
            with open(os.path.join(self._output_dir, "text_results.json"), "w") as f:
                json.dump(results, f, indent=1)
        return copy.deepcopy(results)

    def _score(self, predictions):
        gt_all = gt_from_dataset_dicts(DatasetCatalog.get(self._dataset_name))
        raw = prediction_items(predictions)
        missing = set(raw) - set(gt_all)
        if missing:
            raise KeyError(
                f"{len(missing)} evaluated image ids are not in dataset {self._dataset_name!r}, "
                f"e.g. {sorted(missing)[0]!r}"
            )
        # Score exactly the images that were run (all of them, in a normal test).
        gt = {k: gt_all[k] for k in raw}
        if len(gt) < len(gt_all):
            logger.warning(
                "Evaluating %d of the %d images of %s", len(gt), len(gt_all), self._dataset_name
            )
        dets, report = prepare_predictions(raw, invalid="hull", sort_by_score=True)
        if report.num_dropped or report.num_repaired:
            logger.info(
                "Submission: %d degenerate polygons dropped, %d self-intersecting ones replaced "
                "by their convex hull", report.num_dropped, report.num_repaired,
            )
        if self._output_dir:
            write_submission_zip(os.path.join(self._output_dir, "submission.zip"), raw)

        res = OrderedDict()
        modes = [("e2e", False)] + ([("ws", True)] if self._word_spotting else [])
        for kind, lexicon in self._lexicons.items():
            corrected, _ = apply_lexicon(dets, lexicon, rule=self._lexicon_rule)
            for mode, ws in modes:
                cfg = ProtocolConfig.davar(iou_threshold=self._iou_threshold, word_spotting=ws)
                r = evaluate(gt, corrected, cfg)
                if kind == "none" and mode == "e2e":
                    for k, v in r.detection.items():
                        res[f"det_{k}"] = 100.0 * v
                for k, v in r.spotting.items():
                    res[f"{mode}_{kind}_{k}"] = 100.0 * v
        sizes = [p["input_size"] for p in predictions if "input_size" in p]
        if sizes:
            res["mean_input_short_side"] = float(np.mean([min(s) for s in sizes]))
        gflops = [p["gflops"] for p in predictions if "gflops" in p]
        if gflops:
            res["mean_gflops"] = float(np.mean(gflops))
        scales = [p["scale"] for p in predictions if "scale" in p]
        if scales:
            # A DLD model: the share of images at each chosen scale ("scale_0.5": 30.0 = 30 %).
            res["mean_scale"] = float(np.mean(scales))
            for s in sorted(set(scales)):
                res[f"scale_{s:g}"] = 100.0 * scales.count(s) / len(scales)
        logger.info("Text spotting results on %s: %s", self._dataset_name, dict(res))
        return {"text_spotting": res}
