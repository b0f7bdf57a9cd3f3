"""Extension points: a new recognizer, selector or selector objective is one class plus a
registry name, chosen by MODEL.TEXT_HEAD.NAME, MODEL.DLD.SELECTOR_NAME or MODEL.DLD.SELECTOR_LOSS.
Each toy below stands for such a new file."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from test_text_spotter import _input

pytestmark = pytest.mark.detectron2

TEACHER = "configs/quick_schedules/teacher_instant_test.yaml"
DLD = "configs/quick_schedules/dld_instant_test.yaml"


def _cfg(path, *opts):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(path)
    cfg.merge_from_list(list(opts))
    return cfg


def _build(path, *opts):
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    return build_model(_cfg(path, *opts))


def _batch():
    return [
        _input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]]),
        _input(["Text"], [[40, 60, 200, 120]]),
    ]


def _without_targets(batch):
    return [{k: v for k, v in x.items() if k != "instances"} for x in batch]


# ------------------------------------------------------------------------------- the toys
@pytest.fixture(scope="module")
def toys():
    """Register the toy recognizer, selector and objective once per test session."""
    from dld_d2.modeling.dld.objectives import SELECTOR_LOSS_REGISTRY, SelectorObjective
    from dld_d2.modeling.dld.selector_registry import SELECTOR_REGISTRY
    from dld_d2.modeling.recognition import DecodedText, RecognitionOutputs, decode_greedy
    from dld_d2.modeling.text_head import TEXT_HEAD_REGISTRY

    class ToyMeanRecognizer(nn.Module):
        """Reads every word of an image from the image's mean P2 feature."""

        def __init__(self, cfg, input_shape, num_classes):
            super().__init__()
            self.num_steps, self.num_classes = cfg.MODEL.TEXT_HEAD.MAX_TEXT_LEN + 1, num_classes
            self.classifier = nn.Linear(input_shape.channels, num_classes * self.num_steps)
            self.ctc_head = None

        def forward(self, p2, boxes, masks=None, targets=None, mask_stride=1) -> RecognitionOutputs:
            feats = torch.cat([p2[b].mean(dim=(1, 2)).expand(len(bx), -1) for b, bx in enumerate(boxes)])
            logits = self.classifier(feats).view(-1, self.num_steps, self.num_classes)
            return RecognitionOutputs(logits, feats[:, :, None, None], feats[:, None, :])

        @torch.no_grad()
        def predict(self, p2, boxes, masks=None, beam_width=1, mask_stride=1) -> DecodedText:
            return decode_greedy(self(p2, boxes).logits)

    class ToyBrightnessSelector(nn.Module):
        """Picks a scale from an image's mean brightness."""

        def __init__(self, cfg, num_scales):
            super().__init__()
            self.fc = nn.Linear(1, num_scales)

        def forward(self, images):
            return self.fc(images.mean(dim=(1, 2, 3))[:, None])

    class PreferTheCheapestScale(SelectorObjective):
        """`loss_rs`: cross-entropy of the selector's logits to the first (cheapest) scale."""

        def __call__(self, step):
            target = torch.zeros(len(step.logits), dtype=torch.long, device=step.logits.device)
            return {"loss_rs": self.weight * F.cross_entropy(step.logits, target)}

    # What the decorators of a new file do.
    if "ToyMeanRecognizer" not in TEXT_HEAD_REGISTRY:
        TEXT_HEAD_REGISTRY.register(ToyMeanRecognizer)
        SELECTOR_REGISTRY.register(ToyBrightnessSelector)
        SELECTOR_LOSS_REGISTRY.register("cheapest")(PreferTheCheapestScale)
    return TEXT_HEAD_REGISTRY.get("ToyMeanRecognizer"), SELECTOR_REGISTRY.get("ToyBrightnessSelector")


# ------------------------------------------------------------------------------------ tests
def test_the_defaults_are_the_papers_modules():
    from dld_d2.modeling.dld.selector import ResolutionSelector
    from dld_d2.modeling.recognition import RecognitionBranch

    model = _build(DLD)
    assert isinstance(model.student.roi_heads.rec_branch, RecognitionBranch)
    assert type(model.student.roi_heads.rec_branch).__name__ == "AttentionRecognitionHead"
    assert isinstance(model.selector, ResolutionSelector)
    assert type(model.selector).__name__ == "ResNetResolutionSelector"
    assert type(model.selector_objective).__name__ == "DecisionCrossEntropy"


def test_a_new_recognizer_by_name(toys):
    from detectron2.utils.events import EventStorage

    toy_recognizer, _ = toys
    model = _build(TEACHER, "MODEL.TEXT_HEAD.NAME", "ToyMeanRecognizer",
                   "MODEL.TEXT_HEAD.AUX_CTC_WEIGHT", "0.0", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0")
    assert isinstance(model.roi_heads.rec_branch, toy_recognizer)
    model.train()
    with EventStorage():
        losses = model(_batch())
    assert torch.isfinite(losses["loss_att"]) and "loss_ctc" not in losses
    losses["loss_att"].backward()
    assert model.roi_heads.rec_branch.classifier.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model(_without_targets(_batch()))
    assert all(len(o["instances"].pred_texts) == len(o["instances"]) for o in out)


def test_a_new_selector_by_name(toys):
    from detectron2.utils.events import EventStorage

    _, toy_selector = toys
    model = _build(DLD, "MODEL.DLD.SELECTOR_NAME", "ToyBrightnessSelector")
    assert isinstance(model.selector, toy_selector) and model.selector.fc.out_features == 6
    model.train()
    with EventStorage():
        losses = model(_batch())
    g = torch.autograd.grad(losses["loss_penalty"], list(model.selector.parameters()))
    assert any(x.abs().sum() > 0 for x in g)
    model.eval()
    with torch.no_grad():
        out = model(_without_targets(_batch()))
    assert all(o["scale"] in model.scales for o in out)


def test_a_new_selector_objective_by_name(toys):
    from detectron2.utils.events import EventStorage

    model = _build(DLD, "MODEL.DLD.SELECTOR_LOSS", "cheapest", "MODEL.DLD.SELECTOR_LOSS_WEIGHT", "0.5")
    assert type(model.selector_objective).__name__ == "PreferTheCheapestScale"
    model.train()
    with EventStorage():
        losses = model(_batch())
    assert "loss_rs" in losses and "loss_penalty" not in losses
    from dld_d2.modeling.dld.selector import selector_views

    with torch.no_grad():
        images = model.student.preprocess_image(_batch())
        logits = torch.cat([model.selector(v) for v in selector_views(images.tensor, images.image_sizes)])
        expected = 0.5 * F.cross_entropy(logits, torch.zeros(2, dtype=torch.long))
    assert float(losses["loss_rs"]) == pytest.approx(float(expected), rel=1e-6)


def test_unknown_names_are_errors():
    with pytest.raises(KeyError, match="No object named 'Nope' found in 'TEXT_HEAD' registry"):
        _build(TEACHER, "MODEL.TEXT_HEAD.NAME", "Nope")
    with pytest.raises(KeyError, match="No object named 'Nope' found in 'DLD_SELECTOR' registry"):
        _build(DLD, "MODEL.DLD.SELECTOR_NAME", "Nope")
    with pytest.raises(ValueError, match=r"MODEL.DLD.SELECTOR_LOSS='nope': one of .*'best'.*'ce'.*'kl'"):
        _build(DLD, "MODEL.DLD.SELECTOR_LOSS", "nope")
    with pytest.raises(ValueError, match="MODEL.DLD.SELECTOR_NORM must be one of"):
        _build(DLD, "MODEL.DLD.SELECTOR_NORM", "batch")
    assert _build(DLD, "MODEL.DLD.SELECTOR_NORM", "running").selector.bn1.track_running_stats
