"""`DLDSpotter`: frozen high-resolution teacher, low-resolution student and resolution selector."""
import collections
import contextlib
import logging
import math
import os
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.data import DatasetCatalog
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.utils.events import get_event_storage

from ..checkpoint.checkpointer import TextSpotterCheckpointer, checkpoint_parts
from .dld import (
    ResolutionSelector,
    best_scale_targets,
    combine_scale_logits,
    epoch_of,
    iters_per_epoch,
    lowres_view,
    resolution_penalty,
    scale_short_sides,
    scale_token_losses,
    select_scales,
    temperature,
)
from .recognition import feature_kd_loss, recognition_loss, sequence_kd_loss
from .text_spotter import TextSpotter, text_postprocess

logger = logging.getLogger(__name__)

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
    """Dynamic Low-Resolution Distillation (DLD_SPEC §2–3).

    Training (inputs at the teacher view): the frozen teacher reads the GT words (no grad); the
    selector picks one scale per image by hard Gumbel-softmax; `loss_rs` scores that choice by
    the student's (no-grad) recognition at every candidate scale; `loss_penalty` charges its
    cost (with selector_loss "best", `loss_rs` is instead the selector's cross-entropy to the
    decisions that minimise those two terms); the student trains at the chosen scale with its own losses plus sequence, RoI-feature
    and context-feature distillation. Inference: selector on the test view, then the student
    alone at the chosen scale. Outputs carry `scale` and `input_size` per image.

    State dict: `teacher.*`, `student.*`, `selector.*`. A plain TextSpotter checkpoint loads
    into teacher and student both; a DLD checkpoint may lack the teacher (inference).
    """

    # Checkpoints for inference may leave the teacher out (TextSpotterCheckpointer).
    inference_optional_parts = ("teacher",)

    @configurable
    def __init__(
        self,
        *,
        teacher: TextSpotter,
        student: TextSpotter,
        selector: Optional[ResolutionSelector],
        scales,
        scale_policy: str = "learned",
        fixed_scale: float = 0.5,
        tau0: float = 5.0,
        tau_decay: float = 0.965,
        iters_per_epoch: int = 0,
        train_datasets=(),
        ims_per_batch: int = 1,
        penalty_weight: float = 0.1,
        penalty_exponent: float = 1.5,
        penalty_costs=(),
        selector_loss: str = "ce",
        selector_loss_weight: float = 1.0,
        selector_replay: int = 0,
        selector_replay_bank: int = 0,
        test_selection: str = "argmax",
        train_max_size: int = 1600,
        test_max_size: int = 3000,
        kd_seq_weight: float = 1.0,
        kd_seq_topk: int = 1,
        kd_seq_beam_width: int = 5,
        kd_roi_weight: float = 1.0,
        kd_context_weight: float = 1.0,
    ):
        """
        Args:
            teacher, student: two TextSpotters of the same architecture; the teacher is frozen.
            selector: the resolution selector (None unless scale_policy is "learned").
            scales: candidate factors of the teacher-view short side.
            scale_policy: "learned" | "fixed" (always `fixed_scale`) | "random".
            tau0, tau_decay, iters_per_epoch: Gumbel temperature tau0 · tau_decay^epoch; with
                iters_per_epoch 0 it is ceil(#images of `train_datasets` / `ims_per_batch`),
                counted at the first training step (evaluation never loads training data).
            penalty_weight, penalty_exponent, penalty_costs: the cost penalty (γ, s^1.5 or a table).
            selector_loss: "ce" (code), "kl" (paper) or "best" (cross-entropy to each image's
                best scale under the code's objective); selector_loss_weight its weight.
            selector_replay: with "best", the selector also trains on this many images of
                earlier steps, each with the target it got then (0: the current batch only).
            selector_replay_bank: how many earlier images are kept to draw those from at random
                each step (0: `selector_replay`, i.e. always the latest ones).
            test_selection: "argmax" or "sample".
            train_max_size, test_max_size: long-side caps of the low-resolution view.
            kd_*: weights of the distillation terms, top-k and beam width of sequence KD.
        """
        super().__init__()
        if scale_policy not in ("learned", "fixed", "random"):
            raise ValueError(f"MODEL.DLD.SCALE_POLICY={scale_policy!r}: learned, fixed or random")
        if (selector is None) != (scale_policy != "learned"):
            raise ValueError("a selector is needed exactly when scale_policy is 'learned'")
        if selector_loss not in ("ce", "kl", "best"):
            raise ValueError(f"MODEL.DLD.SELECTOR_LOSS={selector_loss!r}: 'ce', 'kl' or 'best'")
        if selector_replay < 0:
            raise ValueError(f"MODEL.DLD.SELECTOR_REPLAY={selector_replay}: a count of images ≥ 0")
        if selector_replay_bank < 0 or (selector_replay_bank and selector_replay_bank < selector_replay):
            raise ValueError(
                f"MODEL.DLD.SELECTOR_REPLAY_BANK={selector_replay_bank}: 0 (keep the latest "
                f"SELECTOR_REPLAY images) or at least SELECTOR_REPLAY={selector_replay}"
            )
        if selector_replay_bank and not selector_replay:
            raise ValueError(
                f"MODEL.DLD.SELECTOR_REPLAY_BANK={selector_replay_bank} keeps images for "
                "SELECTOR_REPLAY, which is 0: set SELECTOR_REPLAY to how many to draw a step"
            )
        if selector_replay and selector_loss != "best":
            raise ValueError(
                f"MODEL.DLD.SELECTOR_REPLAY={selector_replay} needs MODEL.DLD.SELECTOR_LOSS 'best' "
                f"(got {selector_loss!r}): 'ce' and 'kl' need the student's passes at every scale "
                "of a replayed image, which are not kept; set SELECTOR_REPLAY 0 or the 'best' loss"
            )
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
        if penalty_costs and len(penalty_costs) != len(scales):
            raise ValueError(f"{len(penalty_costs)} PENALTY_COSTS for {len(scales)} SCALES")
        self.teacher = teacher
        self.student = student
        self.selector = selector
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.teacher.eval()
        self.scales = [float(s) for s in scales]
        self.scale_policy = scale_policy
        self.fixed_scale = float(fixed_scale)
        self.tau0, self.tau_decay = tau0, tau_decay
        self.iters_per_epoch = int(iters_per_epoch)
        self._epoch_source = (tuple(train_datasets), int(ims_per_batch))
        self.penalty_weight = penalty_weight
        self.penalty_exponent = penalty_exponent
        self.penalty_costs = tuple(penalty_costs) or None
        self.selector_loss = selector_loss
        self.selector_loss_weight = selector_loss_weight
        # (selector input, best-scale index) of the latest images; per process, not checkpointed:
        # after a resume it refills within SELECTOR_REPLAY_BANK / batch steps.
        self._replay_per_step = int(selector_replay)
        self._replay = collections.deque(maxlen=int(selector_replay_bank or selector_replay))
        self.test_selection = test_selection
        self.train_max_size, self.test_max_size = train_max_size, test_max_size
        self.kd_seq_weight, self.kd_seq_topk = kd_seq_weight, kd_seq_topk
        self.kd_seq_beam_width = kd_seq_beam_width
        self.kd_roi_weight, self.kd_context_weight = kd_roi_weight, kd_context_weight
        self._register_load_state_dict_pre_hook(self._load_plain_spotter)

    @classmethod
    def from_config(cls, cfg):
        spotter_cfg = cfg.clone()
        spotter_cfg.defrost()
        spotter_cfg.MODEL.META_ARCHITECTURE = "TextSpotter"
        teacher, student = TextSpotter(spotter_cfg), TextSpotter(spotter_cfg)
        dld = cfg.MODEL.DLD
        if dld.TEACHER_WEIGHTS:
            if "://" not in dld.TEACHER_WEIGHTS and not os.path.isfile(dld.TEACHER_WEIGHTS):
                raise FileNotFoundError(
                    f"MODEL.DLD.TEACHER_WEIGHTS={dld.TEACHER_WEIGHTS}: no such file (expected a "
                    "trained TextSpotter checkpoint, e.g. output/demo/teacher/model_final.pth)"
                )
            # The student starts as a copy of the teacher (DLD_SPEC §3.1).
            for part in (teacher, student):
                TextSpotterCheckpointer(
                    part, require="complete", purpose="MODEL.DLD.TEACHER_WEIGHTS"
                ).load(dld.TEACHER_WEIGHTS)
        elif not cfg.MODEL.WEIGHTS:
            # Distilling from a random teacher would run and teach nothing.
            raise ValueError(
                "MODEL.DLD.TEACHER_WEIGHTS and MODEL.WEIGHTS are both empty: set "
                "MODEL.DLD.TEACHER_WEIGHTS to a trained TextSpotter checkpoint (e.g. "
                "output/demo/teacher/model_final.pth), or MODEL.WEIGHTS to a DLD checkpoint"
            )
        selector = None
        if dld.SCALE_POLICY == "learned":
            selector = ResolutionSelector(num_scales=len(dld.SCALES), widths=tuple(dld.SELECTOR_WIDTHS))
            selector.to(torch.device(cfg.MODEL.DEVICE))
        return {
            "teacher": teacher,
            "student": student,
            "selector": selector,
            "scales": dld.SCALES,
            "scale_policy": dld.SCALE_POLICY,
            "fixed_scale": dld.FIXED_SCALE,
            "tau0": dld.TAU0,
            "tau_decay": dld.TAU_DECAY,
            "iters_per_epoch": dld.ITERS_PER_EPOCH,
            "train_datasets": cfg.DATASETS.TRAIN,
            "ims_per_batch": cfg.SOLVER.IMS_PER_BATCH,
            "penalty_weight": dld.PENALTY_WEIGHT,
            "penalty_exponent": dld.PENALTY_EXPONENT,
            "penalty_costs": dld.PENALTY_COSTS,
            "selector_loss": dld.SELECTOR_LOSS,
            "selector_loss_weight": dld.SELECTOR_LOSS_WEIGHT,
            "selector_replay": dld.SELECTOR_REPLAY,
            "selector_replay_bank": dld.SELECTOR_REPLAY_BANK,
            "test_selection": dld.TEST_SELECTION,
            "train_max_size": dld.TRAIN_MAX_SIZE,
            "test_max_size": dld.TEST_MAX_SIZE,
            "kd_seq_weight": dld.KD_SEQ_WEIGHT,
            "kd_seq_topk": dld.KD_SEQ_TOPK,
            "kd_seq_beam_width": dld.KD_SEQ_BEAM_WIDTH,
            "kd_roi_weight": dld.KD_ROI_WEIGHT,
            "kd_context_weight": dld.KD_CONTEXT_WEIGHT,
        }

    @property
    def device(self):
        return self.student.device

    def train(self, mode: bool = True):
        """The teacher stays in eval mode (DLD_SPEC §7 #8: frozen BN statistics)."""
        super().train(mode)
        self.teacher.eval()
        return self

    def _load_plain_spotter(self, state_dict, prefix, *args):
        # A plain TextSpotter checkpoint (no part prefixes) initialises teacher and student.
        own = [k for k in state_dict if k.startswith(prefix)]
        if not own:
            return
        parts = checkpoint_parts({k[len(prefix):]: None for k in own})
        if parts:
            logger.info("Loading a DLD checkpoint holding: %s", ", ".join(parts))
            return
        logger.info("Loading a plain text-spotter checkpoint into the teacher and the student")
        for k in own:
            value = state_dict.pop(k)
            for part in ("teacher", "student"):
                state_dict[f"{prefix}{part}.{k[len(prefix):]}"] = value

    # ---------------------------------------------------------------------------------------------
    # Scale decisions
    # ---------------------------------------------------------------------------------------------
    @staticmethod
    def _selector_inputs(images) -> List[torch.Tensor]:
        # One image at a time on its own padded region (DLD_SPEC §2): no other image's padding.
        div = 32
        return [
            images.tensor[b : b + 1, :, : math.ceil(h / div) * div, : math.ceil(w / div) * div]
            for b, (h, w) in enumerate(images.image_sizes)
        ]

    def _selector_logits(self, images) -> torch.Tensor:
        return torch.cat([self.selector(x) for x in self._selector_inputs(images)])

    def _decide(self, images) -> torch.Tensor:
        """(B, K) one-hot decisions of the test-time policy (and of "fixed"/"random" in training)."""
        k, b = len(self.scales), len(images.image_sizes)
        if self.scale_policy == "learned":
            return select_scales(self._selector_logits(images), 1.0, self.test_selection)
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

    # ---------------------------------------------------------------------------------------------
    # Training
    # ---------------------------------------------------------------------------------------------
    def forward(self, batched_inputs: List[Dict]):
        if not self.training:
            return self.inference(batched_inputs)
        images = self.student.preprocess_image(batched_inputs)
        targets = [x["instances"].to(self.device) for x in batched_inputs]

        with torch.no_grad():
            t_features = self.teacher.backbone(images.tensor)
            t_out, text_targets = self.teacher.roi_heads.recognize_gt(t_features, targets)

        losses = {}
        tau = None
        if self.scale_policy == "learned":
            epoch = epoch_of(get_event_storage().iter, self._epoch_length())
            tau = temperature(epoch, self.tau0, self.tau_decay)
            logits = self._selector_logits(images)
            decisions = select_scales(logits, tau, "gumbel")
            losses.update(self._selector_losses(images, targets, logits, decisions, t_out.logits,
                                                text_targets))
        else:
            decisions = self._decide(images)
        scales = self._chosen_scales(decisions)
        lr_images, lr_targets, _ = lowres_view(
            images, scale_short_sides(images.image_sizes, scales), self.train_max_size, targets
        )
        losses.update(self._student_losses(lr_images, lr_targets, t_out))
        self._log_decisions(scales, tau)
        return losses

    def _epoch_length(self) -> int:
        if self.iters_per_epoch <= 0:
            names, batch = self._epoch_source
            num_images = sum(len(DatasetCatalog.get(n)) for n in names)
            self.iters_per_epoch = iters_per_epoch(num_images, batch)
            logger.info("DLD epoch = %d iterations (%d training images, batch %d)",
                        self.iters_per_epoch, num_images, batch)
        return self.iters_per_epoch

    def _scale_costs(self, like: torch.Tensor) -> torch.Tensor:
        """(K,) cost of each candidate scale in the penalty: the table, or scale ** exponent."""
        if self.penalty_costs is not None:
            return like.new_tensor(self.penalty_costs)
        return like.new_tensor(self.scales) ** self.penalty_exponent

    def _selector_losses(self, images, targets, logits, decisions, teacher_logits, text_targets):
        """`loss_rs` and `loss_penalty` of the decisions ("ce", "kl"), or, for "best",
        `loss_rs` = cross-entropy of the selector's logits to the decisions that minimise them."""
        stacked = self._per_scale_logits(images, targets)
        costs = self._scale_costs(decisions)
        penalty = resolution_penalty(decisions, self.scales, self.penalty_weight, costs=costs)
        if self.selector_loss == "best":
            # The straight-through gradient of "ce" reaches an image's logits only through the
            # softmax of its decision, which vanishes once the selector prefers one scale; on the
            # synthetic scenes it settled on one scale for every image within 1,500 steps. The
            # same no-grad passes give each image's best decision outright; a classification
            # loss toward it keeps teaching until the selector picks it.
            steps = stacked[0].shape[2]
            num_tokens = int((text_targets[:, 1 : steps + 1] != 0).sum())
            best = best_scale_targets(
                scale_token_losses(stacked, text_targets.split([len(t) for t in targets])),
                num_tokens, costs, self.penalty_weight,
            )
            storage = get_event_storage()
            storage.put_scalar("dld/penalty", float(penalty.detach()))
            storage.put_scalar("dld/best_scale", float(logits.new_tensor(self.scales)[best].mean()))
            logits, best = self._with_replay(images, logits, best)
            return {"loss_rs": self.selector_loss_weight * F.cross_entropy(logits, best)}
        mixed = combine_scale_logits(decisions, stacked)
        if self.selector_loss == "kl":
            loss = _token_kl(mixed, teacher_logits, text_targets)
        else:
            loss = recognition_loss(mixed, text_targets)
        return {"loss_rs": loss * self.selector_loss_weight, "loss_penalty": penalty}

    def _with_replay(self, images, logits, best):
        """Append replayed images' logits and stored targets, then remember this batch.

        More images a selector step than SOLVER.IMS_PER_BATCH. Offline on the synthetic scenes
        (noisy text-size targets, 2 new images a step, 6 replayed), a fresh selector still sat
        on the prior after 500 steps when the replayed images were always the latest (each
        seen 4 steps in a row), and split by text size within 150-250 steps in 3 of 3 seeds when
        they were drawn at random from the latest 200; in real runs likewise (README)."""
        if self._replay.maxlen == 0:
            return logits, best
        bank = list(self._replay)
        if len(bank) > self._replay_per_step:
            drawn = torch.randperm(len(bank))[: self._replay_per_step].tolist()
            bank = [bank[i] for i in sorted(drawn)]
        # Copies (a view would keep the whole padded batch alive), in half precision: a bank of
        # 200 S-448 ≤ 800 views takes 0.4 GB.
        inputs = [x.detach().to(torch.float16, copy=True) for x in self._selector_inputs(images)]
        self._replay.extend(zip(inputs, best.tolist()))
        if not bank:
            return logits, best
        replayed = torch.cat([self.selector(x.to(logits.dtype)) for x, _ in bank])
        return torch.cat([logits, replayed]), torch.cat([best, best.new_tensor([t for _, t in bank])])

    def _per_scale_logits(self, images, targets) -> List[torch.Tensor]:
        """Per image, (K, n_b, T, C): the student's logits for its GT words at every scale."""
        # The student reads the GT words at every candidate scale without gradients, in eval
        # mode so these passes do not move its BatchNorm statistics; only the decisions carry
        # gradient, to the selector (DLD_SPEC §3.2 step 3).
        counts = [len(t) for t in targets]
        per_scale = []
        with torch.no_grad(), _eval_mode(self.student):
            for s in self.scales:
                lr_images, lr_targets, _ = lowres_view(
                    images, scale_short_sides(images.image_sizes, [s] * len(targets)),
                    self.train_max_size, targets,
                )
                features = self.student.backbone(lr_images.tensor)
                out, _ = self.student.roi_heads.recognize_gt(features, lr_targets)
                per_scale.append(out.logits.split(counts))
        return [torch.stack([z[b] for z in per_scale]) for b in range(len(targets))]

    def _student_losses(self, images, targets, t_out) -> Dict[str, torch.Tensor]:
        student = self.student
        features = student.backbone(images.tensor)
        proposals, losses = student.proposal_generator(images, features, targets)
        _, detector_losses = student.roi_heads.forward_detection(images, features, proposals, targets)
        losses.update(detector_losses)
        s_out, text_targets = student.roi_heads.recognize_gt(features, targets)
        losses.update(student.roi_heads.recognition_losses(s_out, text_targets))
        losses["loss_kd_seq"] = self.kd_seq_weight * sequence_kd_loss(
            s_out.logits, t_out.logits, self.kd_seq_topk, self.kd_seq_beam_width
        )
        losses["loss_kd_roi"] = self.kd_roi_weight * feature_kd_loss(s_out.roi_features, t_out.roi_features)
        losses["loss_kd_context"] = self.kd_context_weight * feature_kd_loss(s_out.context, t_out.context)
        return losses

    def _log_decisions(self, scales: List[float], tau: Optional[float]):
        storage = get_event_storage()
        storage.put_scalar("dld/mean_scale", sum(scales) / len(scales))
        if tau is not None:
            storage.put_scalar("dld/tau", tau, smoothing_hint=False)

    # ---------------------------------------------------------------------------------------------
    # Inference
    # ---------------------------------------------------------------------------------------------
    def inference(self, batched_inputs: List[Dict]):
        """Selector on the test view, student at the chosen scale; original-image coordinates."""
        images = self.student.preprocess_image(batched_inputs)
        scales = self._chosen_scales(self._decide(images))
        lr_images, _, _ = lowres_view(
            images, scale_short_sides(images.image_sizes, scales), self.test_max_size
        )
        student = self.student
        features = student.backbone(lr_images.tensor)
        proposals, _ = student.proposal_generator(lr_images, features, None)
        results, _ = student.roi_heads(lr_images, features, proposals, None)
        vocab = student.roi_heads.vocabulary
        out = []
        for res, inp, s in zip(results, batched_inputs, scales):
            h = inp.get("height", res.image_size[0])
            w = inp.get("width", res.image_size[1])
            out.append({
                "instances": text_postprocess(res, h, w, vocab),
                "input_size": res.image_size,
                "scale": s,
            })
        return out


def _token_kl(student_logits, teacher_logits, text_targets):
    """KL(teacher ‖ student) per decoding step, averaged over the GT's scored tokens."""
    steps = student_logits.shape[1]
    valid = (text_targets[:, 1 : steps + 1] != 0).to(student_logits.device)
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0
    log_p_t = F.log_softmax(teacher_logits.float(), -1)
    log_p_s = F.log_softmax(student_logits.float(), -1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)
    return (kl * valid).sum() / valid.sum().clamp(min=1)
