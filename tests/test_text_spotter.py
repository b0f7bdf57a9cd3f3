"""TextSpotter + TextSpottingROIHeads: training losses, inference outputs, checkpoints."""
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.detectron2

QUICK = "configs/quick_schedules/teacher_instant_test.yaml"


def _cfg(**overrides):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(QUICK)
    for k, v in overrides.items():
        cfg.merge_from_list([k, v])
    return cfg


def _model(cfg):
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    return build_model(cfg)


def _input(texts, boxes, size=(256, 320), out_size=(512, 640)):
    from detectron2.structures import Boxes, Instances, PolygonMasks

    from dld_d2.data.vocabulary import Vocabulary

    gen = torch.Generator().manual_seed(len(texts))
    img = torch.randint(0, 255, (3,) + size, dtype=torch.uint8, generator=gen)
    inst = Instances(size)
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.gt_boxes = Boxes(b)
    inst.gt_classes = torch.zeros(len(b), dtype=torch.long)
    inst.gt_masks = PolygonMasks(
        [[[x0, y0, x1, y0, x1, y1, x0, y1]] for x0, y0, x1, y1 in b.tolist()]
    )
    inst.gt_texts = Vocabulary.builtin().encode_padded(texts)
    return {"image": img, "instances": inst, "height": out_size[0], "width": out_size[1]}


def test_training_losses_with_and_without_text():
    from detectron2.utils.events import EventStorage

    model = _model(_cfg())
    model.train()
    batch = [_input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]]), _input([], [])]
    with EventStorage():
        losses = model(batch)
        # loss_ctc: the CPU configs' auxiliary CTC loss (MODEL.TEXT_HEAD.AUX_CTC_WEIGHT 1).
        assert set(losses) == {
            "loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask", "loss_att",
            "loss_ctc",
        }
        assert all(torch.isfinite(v) for v in losses.values())
        # An untrained decoder is close to uniform over the 97 classes: CE ≈ ln 97.
        assert abs(float(losses["loss_att"]) - np.log(97)) < 0.5
        sum(losses.values()).backward()
        assert model.roi_heads.rec_branch.decoder.generator.weight.grad.abs().sum() > 0
        # A batch with no text at all still gives a (zero) recognition loss and a backward pass.
        losses = model([_input([], []), _input([], [])])
        assert float(losses["loss_att"]) == 0.0
        sum(losses.values()).backward()


def test_inference_outputs_in_original_coordinates():
    model = _model(_cfg())
    model.roi_heads.box_predictor.test_score_thresh = 0.0  # an untrained model: keep everything
    model.eval()
    with torch.no_grad():
        out = model([_input(["Hello"], [[10, 20, 110, 50]]), _input([], [])])
    for res in out:
        inst = res["instances"]
        assert inst.image_size == (512, 640)
        n = len(inst)
        assert len(inst.pred_texts) == len(inst.pred_polygons) == inst.rec_scores.shape[0] == n
        assert inst.pred_masks.shape[1:] == (512, 640)
        for poly, box in zip(inst.pred_polygons, inst.pred_boxes.tensor):
            # Polygons come from the masks at the input size, scaled ×2 to the output size:
            # they lie within their (equally scaled) box, up to the mask's pixel rounding.
            assert poly.shape[1] == 2 and len(poly) >= 3
            assert poly[:, 0].min() >= float(box[0]) - 3 and poly[:, 0].max() <= float(box[2]) + 3
            assert poly[:, 1].min() >= float(box[1]) - 3 and poly[:, 1].max() <= float(box[3]) + 3
        assert all(isinstance(t, str) and len(t) <= 32 for t in inst.pred_texts)


def test_checkpoint_with_another_vocabulary_is_refused(tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer

    model = _model(_cfg())
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model")
    # The same character set round-trips.
    DetectionCheckpointer(_model(_cfg())).load(str(tmp_path / "model.pth"))
    vocab = tmp_path / "digits.txt"
    vocab.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?.,:;-'\"()[]{}<>/\\|@#$%^&*_+=~` "[:95]) + "\n")
    other = _model(_cfg(**{"MODEL.TEXT_HEAD.VOCABULARY": str(vocab)}))
    with pytest.raises(ValueError, match="different vocabulary"):
        DetectionCheckpointer(other).load(str(tmp_path / "model.pth"))


def test_jittered_copies_multiply_recognition_samples():
    from detectron2.utils.events import EventStorage

    model = _model(_cfg(**{"MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES": "2",
                           "MODEL.TEXT_HEAD.TRAIN_JITTER_RATIO": "0.2"}))
    inp = _input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 318, 140]])
    t = inp["instances"]
    (copies,) = model.roi_heads._with_jittered_copies([t])
    assert len(copies) == 6
    assert torch.equal(copies.gt_texts, t.gt_texts.repeat(3, 1))
    b, orig = copies.gt_boxes.tensor, t.gt_boxes.tensor.repeat(3, 1)
    size = (orig[:, 2:] - orig[:, :2]).repeat(1, 2)
    assert torch.equal(b[:2], orig[:2])  # the originals come first, unchanged
    assert ((b - orig).abs() <= 0.2 * size + 1e-4).all()
    assert (b >= 0).all() and (b[:, [0, 2]] <= 320).all() and (b[:, [1, 3]] <= 256).all()
    model.train()
    with EventStorage():
        losses = model([inp])
    assert torch.isfinite(losses["loss_att"])


def test_loss_weight_and_beam_width_from_config():
    from detectron2.utils.events import EventStorage

    inp = _input(["Hello"], [[10, 20, 110, 50]])
    losses = {}
    for w in ("1.0", "0.5"):
        model = _model(_cfg(**{"MODEL.TEXT_HEAD.LOSS_WEIGHT": w}))
        model.train()
        with EventStorage():
            losses[w] = float(model([inp])["loss_att"])
    assert losses["0.5"] == pytest.approx(losses["1.0"] / 2, rel=1e-5)

    model = _model(_cfg(**{"MODEL.TEXT_HEAD.BEAM_WIDTH": "3"}))
    assert model.roi_heads.beam_width == 3
    model.roi_heads.box_predictor.test_score_thresh = 0.0
    model.eval()
    with torch.no_grad():
        inst = model([inp])[0]["instances"]
    assert len(inst.pred_texts) == len(inst) and (inst.rec_scores <= 1).all()


def test_auxiliary_ctc_loss_is_optional_and_weighted():
    from detectron2.utils.events import EventStorage

    inp = _input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]])
    off = _model(_cfg(**{"MODEL.TEXT_HEAD.AUX_CTC_WEIGHT": "0.0"}))
    assert off.roi_heads.rec_branch.ctc_head is None
    off.train()
    with EventStorage():
        assert "loss_ctc" not in off([inp])
    values = {}
    for w in ("1.0", "0.5"):
        model = _model(_cfg(**{"MODEL.TEXT_HEAD.AUX_CTC_WEIGHT": w}))
        model.train()
        torch.manual_seed(0)
        with EventStorage():
            values[w] = float(model([inp])["loss_ctc"])
    assert values["1.0"] > 1.0  # an untrained classifier over 97 classes
    assert values["0.5"] == pytest.approx(values["1.0"] / 2, rel=1e-5)


def test_decoder_from_config_reads_with_the_ctc_head():
    inp = _input(["Hello"], [[10, 20, 110, 50]])
    texts = {}
    for decoder in ("attention", "ctc", "joint"):
        model = _model(_cfg(**{"MODEL.TEXT_HEAD.AUX_CTC_WEIGHT": "1.0",
                               "MODEL.TEXT_HEAD.DECODER": decoder}))
        assert model.roi_heads.text_decoder == decoder
        model.roi_heads.box_predictor.test_score_thresh = 0.0
        model.eval()
        with torch.no_grad():
            inst = model([inp])[0]["instances"]
        assert len(inst) > 0 and len(inst.pred_texts) == len(inst)
        assert ((inst.rec_scores >= 0) & (inst.rec_scores <= 1)).all()
        texts[decoder] = list(inst.pred_texts)
    # Same seed, same weights: "joint" reads, word by word, one of the other two's texts.
    assert all(j in (a, c) for j, a, c in zip(texts["joint"], texts["attention"], texts["ctc"]))
    with pytest.raises(ValueError, match="AUX_CTC_WEIGHT > 0"):
        _model(_cfg(**{"MODEL.TEXT_HEAD.AUX_CTC_WEIGHT": "0.0", "MODEL.TEXT_HEAD.DECODER": "ctc"}))
    with pytest.raises(ValueError, match="MODEL.TEXT_HEAD.DECODER must be one of"):
        _model(_cfg(**{"MODEL.TEXT_HEAD.DECODER": "greedy"}))
    with pytest.raises(ValueError, match="JOINT_CTC_WEIGHT"):
        _model(_cfg(**{"MODEL.TEXT_HEAD.AUX_CTC_WEIGHT": "1.0", "MODEL.TEXT_HEAD.DECODER": "joint",
                       "MODEL.TEXT_HEAD.JOINT_CTC_WEIGHT": "1.5"}))


def test_roi_width_and_supersample_from_config():
    from detectron2.utils.events import EventStorage

    inp = _input(["Hello"], [[10, 20, 110, 50]])
    model = _model(_cfg(**{"MODEL.TEXT_HEAD.ROI_WIDTH": "48"}))
    with EventStorage():
        reading = model.read_words(model.preprocess_image([inp]), [inp["instances"]])
    assert reading.outputs.roi_features.shape[-2:] == (8, 48)
    assert reading.outputs.context.shape[1] == 49
    model.train()
    with EventStorage():
        assert torch.isfinite(model([inp])["loss_ctc"])  # CTC over 49 positions
    with pytest.raises(ValueError, match="MODEL.TEXT_HEAD.ROI_WIDTH"):
        _model(_cfg(**{"MODEL.TEXT_HEAD.ROI_WIDTH": "0"}))
    model = _model(_cfg(**{"MODEL.TEXT_HEAD.ROI_SUPERSAMPLE": "2"}))
    assert model.roi_heads.rec_branch.roi_extractor.supersample == 2
    with EventStorage():
        reading = model.read_words(model.preprocess_image([inp]), [inp["instances"]])
    assert reading.outputs.roi_features.shape[-2:] == (8, 32)
    with pytest.raises(ValueError, match="MODEL.TEXT_HEAD.ROI_SUPERSAMPLE"):
        _model(_cfg(**{"MODEL.TEXT_HEAD.ROI_SUPERSAMPLE": "0"}))
    model = _model(_cfg(**{"MODEL.TEXT_HEAD.MASK_GRID": "reference"}))
    assert model.roi_heads.rec_branch.roi_extractor.mask_grid == "reference"
    with pytest.raises(ValueError, match="MODEL.TEXT_HEAD.MASK_GRID must be one of"):
        _model(_cfg(**{"MODEL.TEXT_HEAD.MASK_GRID": "opencv"}))


def test_public_steps_losses_read_words_and_spot_match_forward():
    """`losses`, `read_words` and `spot` on preprocessed images are what `forward` computes."""
    from detectron2.utils.events import EventStorage

    batch = [_input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]]), _input([], [])]
    model = _model(_cfg())
    model.train()
    images = model.preprocess_image(batch)
    targets = [x["instances"] for x in batch]
    with EventStorage():
        torch.manual_seed(0)
        expected = model(batch)
        torch.manual_seed(0)
        losses, reading = model.losses(images, targets)
        assert {k: float(v) for k, v in losses.items()} == {k: float(v) for k, v in expected.items()}
        # TRAIN_JITTER_COPIES 1 of the quick config: the reading holds each word twice.
        assert reading.outputs.logits.shape[0] == reading.text_targets.shape[0] == 4
        _, plain = model.losses(images, targets, jittered_copies=False)
        assert plain.text_targets.shape[0] == 2
    model.eval()
    with torch.no_grad():
        words = model.read_words(images, targets)
        assert torch.equal(words.text_targets, torch.cat([t.gt_texts for t in targets]))
        assert words.outputs.logits.shape[:2] == (2, 17)  # MAX_TEXT_LEN 16 + 1 steps
        inputs = [{k: v for k, v in x.items() if k != "instances"} for x in batch]
        spotted = model.spot(model.preprocess_image(inputs), inputs)
        forward = model(inputs)
    for a, b in zip(spotted, forward):
        assert a["input_size"] == b["input_size"]
        assert a["instances"].pred_texts == b["instances"].pred_texts
        assert torch.equal(a["instances"].pred_boxes.tensor, b["instances"].pred_boxes.tensor)


def test_recognition_only_training_trains_the_reader_and_leaves_the_detector():
    from detectron2.utils.events import EventStorage

    from dld_d2.engine.optimizer import build_optimizer

    # No jittered copies: their boxes would draw other random numbers after the detector's
    # sampling in joint training.
    cfg = _cfg(**{"MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY": "True",
                  "MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES": "0"})
    model = _model(cfg)
    full = _model(_cfg(**{"MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES": "0"}))  # same seed, same weights
    model.train()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()
              if n.startswith(("proposal_generator.", "roi_heads.box", "roi_heads.mask_head."))}
    assert frozen and not any(p.requires_grad for n, p in model.named_parameters() if n in frozen)
    batch = [_input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]])]
    with EventStorage():
        torch.manual_seed(1)
        losses = model(batch)
        assert set(losses) == {"loss_att", "loss_ctc"}
        # The same words give the same recognition losses as joint training's.
        full.train()
        torch.manual_seed(1)
        joint = full(batch)
    for k in ("loss_att", "loss_ctc"):
        assert float(losses[k].detach()) == pytest.approx(float(joint[k].detach()), rel=1e-5)
    opt = build_optimizer(cfg, model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sum(losses.values()).backward()
    opt.step()
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert not torch.equal(before["backbone.fpn_lateral2.weight"],
                           after["backbone.fpn_lateral2.weight"])
    rec = [n for n in before if n.startswith("roi_heads.rec_branch.")]
    assert rec and all(not torch.equal(before[n], after[n]) for n in rec
                       if after[n].grad is not None and after[n].grad.abs().sum() > 0)
    # Inference is the whole spotter.
    model.eval()
    with torch.no_grad():
        out = model([_input(["Hello"], [[10, 20, 110, 50]])])
    assert "instances" in out[0]


def test_recognition_only_is_refused_for_distillation():
    from detectron2.modeling import build_model

    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file("configs/quick_schedules/dld_instant_test.yaml")
    cfg.MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY = True
    with pytest.raises(ValueError, match="TRAIN_RECOGNITION_ONLY"):
        build_model(cfg)
