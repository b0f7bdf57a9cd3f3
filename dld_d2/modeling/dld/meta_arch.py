"""`DLDSpotter`: a frozen high-resolution teacher, a low-resolution student and a resolution
selector (docs/method.md, "Architecture", "Training step" and "Inference")."""
import contextlib
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import ImageList, Instances
from detectron2.utils.events import get_event_storage

from ..roi_heads import WordReading
from ..text_spotter import TextSpotter
from .distillation import RecognitionDistillation
from .lowres import scale_short_sides
from .lowres_batch import lowres_view
from .objectives import SelectorObjective, SelectorStep, build_selector_objective
from .penalty import ResolutionPenalty
from .selector import select_scales, selector_views
from .selector_registry import build_selector


@contextlib.contextmanager
def _eval_mode(module: nn.Module):
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


@META_ARCH_REGISTRY.register()
class DLDSpotter(nn.Module):
    """Dynamic Low-Resolution Distillation.

    Training (inputs at the teacher view): the frozen teacher reads the GT words; the selector
    picks one scale per image by hard Gumbel-softmax at `temperature`, and the selector
    objective scores those decisions from the student's (no-grad) reading at every candidate
    scale; the student trains at the chosen scales on its own losses plus the distillation
    losses. Inference: the selector on the test view, then the student alone at the chosen
    scale. Outputs carry `scale` and `input_size` per image.

    State dict: `teacher.*`, `student.*`, `selector.*`; `TextSpotterCheckpointer` loads the
    teacher's weights (MODEL.DLD.TEACHER_WEIGHTS) into teacher and student after the build.
    """

    # Checkpoints for inference may leave the teacher out (TextSpotterCheckpointer).
    inference_optional_parts = ("teacher",)

    @configurable
    def __init__(
        self,
        *,
        teacher: TextSpotter,
        student: TextSpotter,
        selector: Optional[nn.Module],
        selector_objective: SelectorObjective,
        distillation: RecognitionDistillation,
        penalty: ResolutionPenalty,
        scales: Sequence[float],
        scale_policy: str = "learned",
        fixed_scale: float = 0.5,
        temperature: float = 5.0,
        test_selection: str = "argmax",
        view_loss_weight: float = 0.0,
        train_max_size: int = 1600,
        test_max_size: int = 3000,
    ):
        """
        Args:
            teacher, student: two TextSpotters of the same architecture; the teacher is frozen.
            selector: the resolution selector (None unless scale_policy is "learned").
            selector_objective: turns the selector's training decisions into its losses.
            distillation: the student's distillation losses from the teacher's reading.
            penalty: the cost of the candidate scales (`loss_penalty`).
            scales: candidate factors of the teacher-view short side.
            scale_policy: "learned" | "fixed" (always `fixed_scale`) | "random".
            temperature: the Gumbel-softmax temperature of the training decisions; set each
                step by `GumbelTemperatureHook` (this value until then).
            test_selection: "argmax" or "sample".
            view_loss_weight: weight of the student's own and distillation losses at the teacher
                view, beside those at the chosen scales (0: none, as the paper).
            train_max_size, test_max_size: long-side caps of the low-resolution view.
        """
        super().__init__()
        if scale_policy not in ("learned", "fixed", "random"):
            raise ValueError(f"MODEL.DLD.SCALE_POLICY={scale_policy!r}: learned, fixed or random")
        if (selector is None) != (scale_policy != "learned"):
            raise ValueError("a selector is needed exactly when scale_policy is 'learned'")
        if not scales or not all(math.isfinite(s) and 0 < s <= 1 for s in scales):
            raise ValueError(
                f"MODEL.DLD.SCALES={tuple(scales)}: one or more factors of the teacher view's "
                "short side, each in (0, 1]"
            )
        if scale_policy == "fixed" and not (math.isfinite(fixed_scale) and 0 < fixed_scale <= 1):
            raise ValueError(
                f"MODEL.DLD.FIXED_SCALE={fixed_scale}: a factor of the teacher view's short side "
                "in (0, 1]"
            )
        if test_selection not in ("argmax", "sample"):
            raise ValueError(f"MODEL.DLD.TEST_SELECTION={test_selection!r}: 'argmax' or 'sample'")
        if not (math.isfinite(view_loss_weight) and view_loss_weight >= 0):
            raise ValueError(f"MODEL.DLD.VIEW_LOSS_WEIGHT={view_loss_weight}: a weight ≥ 0")
        self.teacher = teacher
        self.student = student
        self.selector = selector
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.teacher.eval()
        self.selector_objective = selector_objective
        self.distillation = distillation
        self.penalty = penalty
        self.scales = [float(s) for s in scales]
        self.scale_policy = scale_policy
        self.fixed_scale = float(fixed_scale)
        self.temperature = float(temperature)
        self.test_selection = test_selection
        self.view_loss_weight = float(view_loss_weight)
        self.train_max_size, self.test_max_size = train_max_size, test_max_size

    @classmethod
    def from_config(cls, cfg):
        spotter_cfg = cfg.clone()
        spotter_cfg.defrost()
        spotter_cfg.MODEL.META_ARCHITECTURE = "TextSpotter"
        if cfg.MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY:
            raise ValueError("MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY is a warm-up of a TextSpotter; "
                             "DLDSpotter trains the whole student: set it False")
        teacher, student = TextSpotter(spotter_cfg), TextSpotter(spotter_cfg)
        dld = cfg.MODEL.DLD
        selector = None
        if dld.SCALE_POLICY == "learned":
            selector = build_selector(cfg, len(dld.SCALES)).to(torch.device(cfg.MODEL.DEVICE))
        return {
            "teacher": teacher,
            "student": student,
            "selector": selector,
            "selector_objective": build_selector_objective(cfg),
            "distillation": RecognitionDistillation(
                seq_weight=dld.KD_SEQ_WEIGHT, seq_topk=dld.KD_SEQ_TOPK,
                seq_beam_width=dld.KD_SEQ_BEAM_WIDTH, roi_weight=dld.KD_ROI_WEIGHT,
                context_weight=dld.KD_CONTEXT_WEIGHT,
            ),
            "penalty": ResolutionPenalty(
                dld.SCALES, dld.PENALTY_WEIGHT, dld.PENALTY_EXPONENT, dld.PENALTY_COSTS
            ),
            "scales": dld.SCALES,
            "scale_policy": dld.SCALE_POLICY,
            "fixed_scale": dld.FIXED_SCALE,
            "temperature": dld.TAU0,
            "test_selection": dld.TEST_SELECTION,
            "view_loss_weight": dld.VIEW_LOSS_WEIGHT,
            "train_max_size": dld.TRAIN_MAX_SIZE,
            "test_max_size": dld.TEST_MAX_SIZE,
        }

    @property
    def device(self):
        return self.student.device

    def train(self, mode: bool = True):
        """The teacher stays in eval mode (frozen BatchNorm statistics)."""
        super().train(mode)
        self.teacher.eval()
        return self

    # ------------------------------------------------------------------------------------ training
    def forward(self, batched_inputs: List[Dict]):
        if not self.training:
            return self.inference(batched_inputs)
        images = self.student.preprocess_image(batched_inputs)
        targets = [x["instances"].to(self.device) for x in batched_inputs]
        with torch.no_grad():
            teacher_reading = self.teacher.read_words(images, targets)
        losses = {}
        if self.selector is not None:
            decisions, selector_losses = self._train_selector(images, targets, teacher_reading)
            losses.update(selector_losses)
        else:
            decisions = self._decide(images)
        scales = self._chosen_scales(decisions)
        losses.update(self._student_losses(images, targets, scales, teacher_reading))
        if self.view_loss_weight > 0:
            # At the teacher view itself too (not in the paper): it keeps the student reading
            # there while it learns the low scales in the same weights.
            at_view = self._student_losses(images, targets, [1.0] * len(targets), teacher_reading)
            losses.update({f"{k}_view": v * self.view_loss_weight for k, v in at_view.items()})
        self._log_decisions(scales)
        return losses

    def _student_losses(
        self, images: ImageList, targets: List[Instances], scales: List[float], teacher_reading: WordReading
    ) -> Dict[str, torch.Tensor]:
        """The student's own and distillation losses with each image at its scale of the teacher
        view (`lowres_view`, capped at TRAIN_MAX_SIZE)."""
        lr_images, lr_targets, _ = lowres_view(
            images, scale_short_sides(images.image_sizes, scales), self.train_max_size, targets
        )
        losses, reading = self.student.losses(lr_images, lr_targets, jittered_copies=False)
        losses.update(self.distillation(reading.outputs, teacher_reading.outputs))
        return losses

    def _train_selector(self, images: ImageList, targets: List[Instances], teacher_reading: WordReading):
        """Hard Gumbel decisions (B, K) at `temperature`, and the selector objective's losses."""
        views = selector_views(images.tensor, images.image_sizes)
        logits = torch.cat([self.selector(x) for x in views])
        decisions = select_scales(logits, self.temperature, "gumbel")
        step = SelectorStep(
            logits=logits,
            decisions=decisions,
            per_scale_logits=self._student_logits_at_every_scale(images, targets),
            text_targets=teacher_reading.text_targets,
            words_per_image=[len(t) for t in targets],
            teacher_logits=teacher_reading.outputs.logits,
            penalty=self.penalty(decisions),
            penalty_weight=self.penalty.weight,
            costs=self.penalty.costs(decisions),
            scales=self.scales,
            selector=self.selector,
            selector_views=views,
        )
        return decisions, self.selector_objective(step)

    def _student_logits_at_every_scale(self, images: ImageList, targets: List[Instances]) -> List[torch.Tensor]:
        """Per image, (K, n_b, T, C): the student's logits for its GT words at every scale.

        Without gradients, and in eval mode so that these passes do not move the student's
        BatchNorm statistics: only the decisions carry gradient, to the selector.
        """
        counts = [len(t) for t in targets]
        per_scale = []
        with torch.no_grad(), _eval_mode(self.student):
            for s in self.scales:
                lr_images, lr_targets, _ = lowres_view(
                    images, scale_short_sides(images.image_sizes, [s] * len(targets)),
                    self.train_max_size, targets,
                )
                reading = self.student.read_words(lr_images, lr_targets)
                per_scale.append(reading.outputs.logits.split(counts))
        return [torch.stack([z[b] for z in per_scale]) for b in range(len(targets))]

    def _log_decisions(self, scales: List[float]):
        storage = get_event_storage()
        storage.put_scalar("dld/mean_scale", sum(scales) / len(scales))
        if self.selector is not None:
            storage.put_scalar("dld/tau", self.temperature, smoothing_hint=False)

    # ------------------------------------------------------------------------------- decisions
    def _decide(self, images: ImageList) -> torch.Tensor:
        """(B, K) one-hot decisions of the test-time policy (and of "fixed"/"random" in training)."""
        k, b = len(self.scales), len(images.image_sizes)
        if self.selector is not None:
            views = selector_views(images.tensor, images.image_sizes)
            logits = torch.cat([self.selector(x) for x in views])
            return select_scales(logits, 1.0, self.test_selection)
        if self.scale_policy == "random":
            index = torch.randint(k, (b,), device=images.tensor.device)
        else:
            nearest = min(range(k), key=lambda i: abs(self.scales[i] - self.fixed_scale))
            index = torch.full((b,), nearest, device=images.tensor.device)
        return F.one_hot(index, k).to(images.tensor.dtype)

    def _chosen_scales(self, decisions: torch.Tensor) -> List[float]:
        if self.scale_policy == "fixed":
            return [self.fixed_scale] * decisions.shape[0]
        return [self.scales[i] for i in decisions.argmax(1).tolist()]

    # ------------------------------------------------------------------------------- inference
    def inference(self, batched_inputs: List[Dict]):
        """Selector on the test view, student at the chosen scale; original-image coordinates."""
        images = self.student.preprocess_image(batched_inputs)
        scales = self._chosen_scales(self._decide(images))
        lr_images, _, _ = lowres_view(
            images, scale_short_sides(images.image_sizes, scales), self.test_max_size
        )
        outputs = self.student.spot(lr_images, batched_inputs)
        for out, s in zip(outputs, scales):
            out["scale"] = s
        return outputs
