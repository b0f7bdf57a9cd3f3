"""`TextSpottingDatasetMapper`: dataset dict → model input, with text-safe augmentations."""
import collections
import logging

import numpy as np
import torch

from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import Boxes, BoxMode, Instances, PolygonMasks

from .image_io import UnreadableImageError, check_image_format, read_image
from .transforms import build_text_augmentation
from .vocabulary import Vocabulary

__all__ = ["TextSpottingDatasetMapper"]

logger = logging.getLogger(__name__)

# Polygons below this area (px², after all transforms) are degenerate: a line or a point.
_MIN_POLYGON_AREA = 1e-4
# Tolerance (px) of the "fully inside the crop" test; crop edges are integers, polygons float.
_CROP_EPS = 1e-6


class TextSpottingDatasetMapper:
    """Map a text-spotting dataset dict (docs/data.md, "Dataset dicts") to the input of a text-spotting model.

    Modelled on Detectron2's `DatasetMapper`. The callable:

    1. reads the image (`INPUT.FORMAT`, EXIF applied as in Detectron2; `image_io.read_image`,
       which decodes it whole) and checks its size. In training an unreadable image (truncated,
       corrupt) is skipped: counted as `unreadable_image_skipped` (logged with the file name on
       the first and every `log_period`-th one), and None is returned, on which Detectron2's
       `MapDataset` maps another, random index. At inference it raises `UnreadableImageError`
       naming the file: evaluation never skips an image;
    2. in training, parses the care instances (`iscrowd=0`) — polygons clipped to the image,
       as the reference loader does — and drops the don't-care ones (`iscrowd=1`): they are *not
       collected* for training and act as plain background (docs/data.md, "Don't-care instances"),
       which is also what
       Detectron2's mapper does with crowd annotations;
    3. applies the augmentations; the crop sees the care boxes through `AugInput.boxes`;
    4. transforms the polygons exactly (all points at once) and drops, with a count, instances
       that a crop left outside (never a cut instance) and polygons that became degenerate
       (< 3 points, zero area, outside the image);
    5. returns `{"image": CHW uint8 tensor, "height", "width", "file_name", "image_id", ...,
       "instances"}` with `gt_boxes` (the extents of the transformed polygons, always),
       `gt_classes`, `gt_masks` (`PolygonMasks`) and `gt_texts` (LongTensor N×(L+2), see
       `Vocabulary.encode_padded`). A row of zeros in `gt_texts` means "detection target, no
       recognition target" (out-of-vocabulary characters, empty or too-long text); those are
       counted in `stats` and logged on the first and every `log_period`-th occurrence.

    At test time (`is_train=False`) it returns the dataset dict (without "annotations", like
    Detectron2's mapper; evaluators read the GT from the registered dicts) plus the image.
    Images without text give Instances with 0 rows of the right shapes and dtypes.

    `stats` counts per process (each dataloader worker has its own mapper copy).
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations,
        image_format: str,
        vocabulary: Vocabulary,
        max_text_len: int = 32,
        log_period: int = 100,
    ):
        """
        Args:
            is_train: training (annotations → Instances) or inference (annotations removed).
            augmentations: list of `Augmentation`s / `Transform`s, e.g. `build_text_augmentation`.
            image_format: "BGR" or a PIL mode such as "RGB" (see `image_io.read_image`).
            vocabulary: the character set used to encode `gt_texts`.
            max_text_len: L; `gt_texts` has L + 2 columns (GO, up to L ids, EOS).
            log_period: log counted problems on their 1st, (1+log_period)-th, ... occurrence.
        """
        if max_text_len < 1:
            raise ValueError(f"max_text_len must be >= 1, got {max_text_len}")
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        check_image_format(image_format)
        self.image_format = image_format
        self.vocabulary = vocabulary
        self.max_text_len = int(max_text_len)
        self.log_period = max(1, int(log_period))
        self.stats = collections.Counter()
        mode = "training" if is_train else "inference"
        logger.info(f"[TextSpottingDatasetMapper] Augmentations used in {mode}: {augmentations}")

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        return {
            "is_train": is_train,
            "augmentations": build_text_augmentation(cfg, is_train),
            "image_format": cfg.INPUT.FORMAT,
            "vocabulary": Vocabulary.from_spec(cfg.MODEL.TEXT_HEAD.VOCABULARY),
            "max_text_len": cfg.MODEL.TEXT_HEAD.MAX_TEXT_LEN,
        }

    # ---------------------------------------------------------------------------------------------
    def __call__(self, dataset_dict):
        """
        Args:
            dataset_dict (dict): one image in the dataset-dict format of docs/data.md,
                "Dataset dicts".

        Returns:
            dict: the input format of Detectron2 models, plus `gt_texts` in the instances; in
            training, None for an image that cannot be decoded (the loader takes another one).

        Raises:
            UnreadableImageError: at inference, for an image that cannot be decoded.
        """
        # Shallow copy: nested annotation structures are only read, never modified.
        dataset_dict = dict(dataset_dict)
        try:
            image = read_image(dataset_dict["file_name"], format=self.image_format)
        except UnreadableImageError as e:
            if not self.is_train:
                raise
            # One bad file must not end a training run; the count makes a bad dataset visible.
            self._count("unreadable_image_skipped", detail=str(e))
            return None
        utils.check_image_size(dataset_dict, image)
        self.stats["images"] += 1

        if not self.is_train:
            aug_input = T.AugInput(image)
            self.augmentations(aug_input)
            dataset_dict.pop("annotations", None)
            dataset_dict.pop("sem_seg_file_name", None)
            dataset_dict["image"] = self._to_tensor(aug_input.image)
            return dataset_dict

        annos = dataset_dict.pop("annotations", None) or []
        polys, texts, classes = self._parse_annotations(annos, image.shape[:2], dataset_dict)
        boxes = _extents(polys)

        aug_input = T.AugInput(image, boxes=boxes)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]

        keep, polys = self._transform_polygons(polys, transforms, image_shape)
        texts = [t for t, k in zip(texts, keep) if k]
        classes = [c for c, k in zip(classes, keep) if k]

        dataset_dict["image"] = self._to_tensor(image)
        dataset_dict["instances"] = self._make_instances(polys, texts, classes, image_shape)
        return dataset_dict

    # ---------------------------------------------------------------------------------------------
    @staticmethod
    def _to_tensor(image):
        # Tensors travel through dataloader workers via shared memory, generic objects via pickle.
        return torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))

    def _count(self, key, n=1, detail=""):
        """Add `n` to a problem counter; log on its first and every `log_period`-th occurrence."""
        if n <= 0:
            return
        before = self.stats[key]
        self.stats[key] += n
        if before // self.log_period != self.stats[key] // self.log_period or before == 0:
            logger.warning(
                "[TextSpottingDatasetMapper] %s: %d so far in this process%s",
                key, self.stats[key], f" (latest: {detail})" if detail else "",
            )

    def _parse_annotations(self, annos, image_hw, dataset_dict):
        """Care instances as lists of (k, 2) float64 polygon parts, clipped to the image."""
        h, w = image_hw
        polys, texts, classes = [], [], []
        for anno in annos:
            if anno.get("iscrowd", 0):
                self.stats["dont_care_dropped"] += 1
                continue
            parts = self._polygon_parts(anno, dataset_dict)
            if not parts:
                self._count("invalid_polygon_dropped", detail=str(dataset_dict.get("file_name")))
                continue
            for p in parts:
                np.clip(p[:, 0], 0, w, out=p[:, 0])
                np.clip(p[:, 1], 0, h, out=p[:, 1])
            polys.append(parts)
            texts.append(anno.get("text", ""))
            classes.append(int(anno.get("category_id", 0)))
        return polys, texts, classes

    @staticmethod
    def _polygon_parts(anno, dataset_dict):
        """The valid parts (≥ 3 points) of an annotation's polygon(s), as new float64 arrays."""
        seg = anno.get("segmentation")
        if isinstance(seg, dict):
            raise ValueError(
                f"{dataset_dict.get('file_name')}: RLE segmentation found; text spotting needs "
                "polygon segmentations ([[x1, y1, x2, y2, ...]])"
            )
        if not seg:
            # No polygon: the box is the instance's outline (4-point rectangle).
            if "bbox" not in anno:
                return []
            x0, y0, x1, y1 = BoxMode.convert(
                list(anno["bbox"]), anno.get("bbox_mode", BoxMode.XYXY_ABS), BoxMode.XYXY_ABS
            )
            seg = [[x0, y0, x1, y0, x1, y1, x0, y1]]
        elif np.isscalar(seg[0]):
            seg = [seg]  # a single flat polygon without the enclosing list
        parts = []
        for p in seg:
            p = np.array(p, dtype=np.float64).reshape(-1)
            if len(p) >= 6 and len(p) % 2 == 0 and np.isfinite(p).all():
                parts.append(p.reshape(-1, 2))
        return parts

    def _transform_polygons(self, polys, transforms, image_shape):
        """Apply `transforms` to all polygon points at once; drop cropped-out and degenerate ones.

        Returns (keep: list[bool] per input instance, kept polygons as lists of flat arrays).
        """
        n = len(polys)
        if n == 0:
            return [], []
        parts = [p for inst in polys for p in inst]
        part_inst = np.repeat(np.arange(n), [len(inst) for inst in polys])
        lengths = np.array([len(p) for p in parts])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pts = np.concatenate(parts, axis=0)
        keep = np.ones(n, dtype=bool)

        for tfm in transforms.transforms:
            if isinstance(tfm, T.NoOpTransform):
                continue
            if isinstance(tfm, T.CropTransform):
                # Text-safe semantics for any crop: keep an instance whole or not at all.
                inst_boxes = _instance_extents(pts, starts, part_inst, n)
                inside = (
                    (inst_boxes[:, 0] >= tfm.x0 - _CROP_EPS)
                    & (inst_boxes[:, 1] >= tfm.y0 - _CROP_EPS)
                    & (inst_boxes[:, 2] <= tfm.x0 + tfm.w + _CROP_EPS)
                    & (inst_boxes[:, 3] <= tfm.y0 + tfm.h + _CROP_EPS)
                )
                self.stats["cropped_out_dropped"] += int((keep & ~inside).sum())
                keep &= inside
            pts = np.asarray(tfm.apply_coords(pts.copy()), dtype=np.float64)

        # Degenerate parts: zero area (shoelace) or no overlap with the image.
        h, w = image_shape
        nxt = np.arange(len(pts)) + 1
        nxt[starts + lengths - 1] = starts
        cross = pts[:, 0] * pts[nxt, 1] - pts[nxt, 0] * pts[:, 1]
        area = 0.5 * np.abs(np.add.reduceat(cross, starts))
        pmin = np.stack([np.minimum.reduceat(pts[:, i], starts) for i in (0, 1)], 1)
        pmax = np.stack([np.maximum.reduceat(pts[:, i], starts) for i in (0, 1)], 1)
        part_ok = (
            (area >= _MIN_POLYGON_AREA)
            & (pmax[:, 0] > 0) & (pmax[:, 1] > 0) & (pmin[:, 0] < w) & (pmin[:, 1] < h)
        )
        # Rotation/resize round-off can put a point 1e-9 outside the canvas.
        np.clip(pts[:, 0], 0, w, out=pts[:, 0])
        np.clip(pts[:, 1], 0, h, out=pts[:, 1])

        inst_ok = np.zeros(n, dtype=bool)
        inst_ok[part_inst[part_ok]] = True
        degenerate = keep & ~inst_ok
        if degenerate.any():
            self._count("degenerate_polygon_dropped", int(degenerate.sum()))
        keep &= inst_ok

        out = [[] for _ in range(n)]
        for i in np.flatnonzero(part_ok & keep[part_inst]):
            s = starts[i]
            out[part_inst[i]].append(pts[s : s + lengths[i]].reshape(-1))
        return keep.tolist(), [out[i] for i in np.flatnonzero(keep)]

    def _make_instances(self, polys, texts, classes, image_shape):
        instances = Instances(image_shape)
        boxes = _extents([[p.reshape(-1, 2) for p in inst] for inst in polys])
        instances.gt_boxes = Boxes(torch.as_tensor(boxes, dtype=torch.float32))
        instances.gt_classes = torch.as_tensor(classes, dtype=torch.int64).reshape(-1)
        instances.gt_masks = PolygonMasks(polys)
        gt_texts = self.vocabulary.encode_padded(texts, max_len=self.max_text_len)
        instances.gt_texts = gt_texts
        self.stats["instances"] += len(texts)
        if len(texts) and not bool(gt_texts.any(dim=1).all()):
            for text, row in zip(texts, gt_texts):
                if row.any():
                    continue
                if not text:
                    self._count("no_rec_target_empty_text")
                elif not self.vocabulary.contains(text):
                    oov = "".join(self.vocabulary.oov_chars(text))
                    self._count(
                        "no_rec_target_out_of_vocabulary", detail=f"{text!r}, chars {oov!r}"
                    )
                else:
                    self._count(
                        "no_rec_target_too_long", detail=f"{len(text)} > {self.max_text_len}"
                    )
        return instances


def _extents(polys):
    """(N, 4) float64 XYXY extents of instances given as lists of (k, 2) parts."""
    if not polys:
        return np.zeros((0, 4), dtype=np.float64)
    out = np.empty((len(polys), 4), dtype=np.float64)
    for i, parts in enumerate(polys):
        pts = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        out[i, :2] = pts.min(axis=0)
        out[i, 2:] = pts.max(axis=0)
    return out


def _instance_extents(pts, starts, part_inst, n):
    """(n, 4) XYXY extents per instance of a flat point array split into parts."""
    boxes = np.empty((n, 4))
    boxes[:, :2] = np.inf
    boxes[:, 2:] = -np.inf
    for i in (0, 1):
        np.minimum.at(boxes[:, i], part_inst, np.minimum.reduceat(pts[:, i], starts))
        np.maximum.at(boxes[:, 2 + i], part_inst, np.maximum.reduceat(pts[:, i], starts))
    return boxes
