"""The pure-torch recognition branch (docs/method.md, "Architecture" and "Masked RoI features")
and the distillation losses: shapes, RoI geometry, decoding, losses, the empty cases, and a tiny
overfit."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dld_d2.modeling.recognition import (
    EOS_ID,
    AttentionDecoder,
    LightCRNN,
    RecognitionBranch,
    beam_search_fixed_rows,
    decode_greedy,
    masked_roi_features,
    recognition_loss,
)
from dld_d2.modeling.dld.distillation import feature_kd_loss, sequence_kd_loss


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These tests run many tiny ops; on the shared 2-core machine a second intra-op thread
    # only adds contention stalls.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _reference_masked_roi(feat, boxes, masks, out=(8, 32), downscale=None):
    """The reference's extraction: one crop and one F.interpolate per instance; the mask at 1/4 reads
    each feature cell's first pixel (the spec's rounded nearest resize where a side is a
    multiple of 4), or is `downscale(masks)` (n, round(H/4), round(W/4)) when given."""
    B, C, H, W = feat.shape
    res = []
    for b in range(B):
        bb = (boxes[b].float() / 4 + torch.tensor([-1.0, -1.0, 1.0, 1.0])).long()
        bb[:, (0, 2)] = bb[:, (0, 2)].clamp(0, W)
        bb[:, (1, 3)] = bb[:, (1, 3)].clamp(0, H)
        m = masks[b]
        hq, wq = int(m.shape[1] / 4 + 0.5), int(m.shape[2] / 4 + 0.5)
        rows = (4 * torch.arange(hq)).clamp(max=m.shape[1] - 1)
        cols = (4 * torch.arange(wq)).clamp(max=m.shape[2] - 1)
        mq = (m[:, rows][:, :, cols].float() if downscale is None else downscale(m)) if len(m) else None
        for i in range(len(bb)):
            left, top, right, bottom = bb[i].tolist()
            right, bottom = min(right, wq), min(bottom, hq)
            if left >= right or top >= bottom:
                res.append(feat.new_zeros((1, C) + out))
                continue
            crop = feat[b, :, top:bottom, left:right] * mq[i, top:bottom, left:right]
            if crop.shape[1] > crop.shape[2] * 1.5:
                crop = crop.transpose(1, 2)
            res.append(F.interpolate(crop[None], size=out, mode="bilinear", align_corners=False))
    return torch.cat(res) if res else feat.new_zeros((0, C) + out)


def _ramp(h, w, c=1):
    """Feature map whose value at (ch, y, x) is 1000·ch + 100·y + x: crops are recognisable."""
    y = torch.arange(h, dtype=torch.float32)[:, None]
    x = torch.arange(w, dtype=torch.float32)[None, :]
    return torch.stack([1000 * ch + 100 * y + x for ch in range(c)])[None]


# ------------------------------------------------------------------------------------------
# LightCRNN
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [256, 128])
def test_light_crnn_output_is_one_by_33(width):
    enc = LightCRNN(width, width)
    out = enc(torch.randn(2, width, 8, 32))
    assert out.shape == (2, width, 1, 33)
    assert LightCRNN.to_sequence(out).shape == (2, 33, width)
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert [m.kernel_size for m in convs] == [(3, 3)] * 4 + [(2, 2)] * 2
    assert [m.stride for m in convs][-2:] == [(2, 1), (1, 1)]


def test_init_follows_spec():
    branch = RecognitionBranch(num_classes=97, channels=64)
    for m in branch.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            assert torch.all(m.bias == 0)
    conv = branch.encoder.convnet[0]
    fan_in = conv.in_channels * 9
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
    lstm = branch.sequence.blocks[0].rnn
    assert torch.all(lstm.bias_ih_l0 == 0) and torch.all(lstm.bias_hh_l0_reverse == 0)


# ------------------------------------------------------------------------------------------
# Masked RoI geometry
# ------------------------------------------------------------------------------------------


def test_roi_crop_identity_resize_picks_the_known_cells():
    feat = _ramp(20, 50, c=2)
    # (13, 9, 133, 33)/4 = (3.25, 2.25, 33.25, 8.25); grown by 1 and truncated: x 2..34, y 1..9,
    # i.e. an 8×32 crop, so the resize is the identity.
    boxes = [torch.tensor([[13.0, 9.0, 133.0, 33.0]])]
    masks = [torch.ones(1, 80, 200, dtype=torch.bool)]
    out = masked_roi_features(feat, boxes, masks)
    assert out.shape == (1, 2, 8, 32)
    assert torch.equal(out[0], feat[0, :, 1:9, 2:34])
    assert out[0, 1, 0, 0].item() == 1000 + 100 * 1 + 2


def test_roi_mask_zeroes_background():
    feat = _ramp(20, 50)
    boxes = [torch.tensor([[13.0, 9.0, 133.0, 33.0]])]
    mask = torch.zeros(1, 80, 200, dtype=torch.uint8)
    mask[0, :, :72] = 1  # nearest 1/4 keeps full-res column 4j → feature columns j < 18
    out = masked_roi_features(feat, boxes, [mask])
    keep = (torch.arange(2, 34) < 18).float()
    assert torch.equal(out[0, 0], feat[0, 0, 1:9, 2:34] * keep)
    # Another instance's mask is not used: a second, all-ones mask reads the full crop.
    two = masked_roi_features(feat, [boxes[0].repeat(2, 1)], [torch.stack([mask[0], torch.ones_like(mask[0])])])
    assert torch.equal(two[0], out[0]) and torch.equal(two[1, 0], feat[0, 0, 1:9, 2:34])


def test_roi_tall_crop_is_transposed():
    feat = _ramp(40, 20)
    # Crop rows 0..32, cols 0..8: h=32 > 1.5·8, so the crop is transposed to 8×32.
    out = masked_roi_features(feat, [torch.tensor([[4.0, 4.0, 28.0, 124.0]])], [torch.ones(1, 160, 80)])
    assert torch.equal(out[0, 0], feat[0, 0, :32, :8].t())
    # h = 12 ≤ 1.5·8: not transposed, plain bilinear resize of the 12×8 crop.
    out = masked_roi_features(feat, [torch.tensor([[4.0, 4.0, 28.0, 44.0]])], [torch.ones(1, 160, 80)])
    ref = F.interpolate(feat[:, :, :12, :8], size=(8, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(out, ref)


def test_roi_bilinear_resize_of_a_small_crop():
    feat = torch.randn(1, 3, 30, 30)
    # (20, 20, 40, 28) → cells x 4..11, y 4..8: a 4×7 crop upsampled to 8×32.
    out = masked_roi_features(feat, [torch.tensor([[20.0, 20.0, 40.0, 28.0]])], [torch.ones(1, 120, 120)])
    ref = F.interpolate(feat[:, :, 4:8, 4:11], size=(8, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(out, ref, atol=1e-6)


def test_roi_degenerate_crops_are_zero():
    feat = torch.randn(1, 2, 20, 30) + 5
    boxes = torch.tensor(
        [
            [500.0, 10.0, 600.0, 40.0],  # right of the map: x clamps to 30..30
            [10.0, 10.0, 50.0, 30.0],  # inside the map but beyond the (smaller) mask
            [10.0, 10.0, 50.0, 30.0],  # ... and an ordinary one for contrast
        ]
    )
    masks = torch.ones(3, 40, 120, dtype=torch.bool)  # mask map 10×30: rows ≥ 10 do not exist
    boxes[1] = torch.tensor([10.0, 60.0, 50.0, 80.0])
    out = masked_roi_features(feat, [boxes], [masks])
    assert torch.count_nonzero(out[0]) == 0 and torch.count_nonzero(out[1]) == 0
    assert torch.count_nonzero(out[2]) > 0


def test_roi_mask_stays_on_its_feature_cells_when_the_side_is_not_a_multiple_of_4():
    # A 358-pixel side (scale 0.8 of S-448): the word covers pixel rows 352-357, i.e. feature
    # cells 88 and 89. A nearest resize of the mask to round(358 / 4) = 90 rows reads cell 88
    # at pixel 350 and would drop it; the mask must stay aligned with P2.
    feat = torch.ones(1, 1, 96, 96)
    mask = torch.zeros(1, 358, 358, dtype=torch.bool)
    mask[0, 352:] = True
    box = torch.tensor([[0.0, 340.0, 40.0, 358.0]])  # cells: rows 84-89, columns 0-10
    out = masked_roi_features(feat, [box], [mask], output_size=(6, 11))
    assert out[0, 0, :, 0].tolist() == [0, 0, 0, 0, 1, 1]
    # The same word at a multiple of 4 (360) is read exactly as before.
    mask = torch.zeros(1, 360, 358, dtype=torch.bool)
    mask[0, 352:] = True
    out = masked_roi_features(feat, [box], [mask], output_size=(6, 11))
    assert out[0, 0, :, 0].tolist() == [0, 0, 0, 0, 1, 1]


def test_reference_mask_grid_reads_the_pixels_of_opencv_nearest_resize():
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    g = torch.Generator().manual_seed(1)
    feat = torch.randn(2, 3, 92, 92, generator=g)
    boxes, masks = [], []
    for hm, wm in [(358, 270), (362, 322)]:  # no side a multiple of 4
        xy = torch.rand(12, 2, generator=g) * torch.tensor([wm - 40.0, hm - 20.0])
        boxes.append(torch.cat([xy, xy + torch.tensor([40.0, 20.0])], 1))
        masks.append(torch.rand(12, hm, wm, generator=g) > 0.5)

    def opencv(m):  # the reference's mmcv.imrescale(mask, 0.25, interpolation="nearest")
        size = (int(m.shape[2] / 4 + 0.5), int(m.shape[1] / 4 + 0.5))
        return torch.stack([torch.from_numpy(cv2.resize(x.numpy().astype(np.uint8), size,
                                                        interpolation=cv2.INTER_NEAREST)) for x in m]).float()

    ref = _reference_masked_roi(feat, boxes, masks, downscale=opencv)
    assert torch.allclose(masked_roi_features(feat, boxes, masks, mask_grid="reference"), ref, atol=1e-5)
    # The default grid reads other pixels at these sizes.
    assert not torch.allclose(masked_roi_features(feat, boxes, masks), ref, atol=1e-2)
    # The 358-row word of the test above: the reference grid reads cell 88 at pixel 350 and drops it.
    mask = torch.zeros(1, 358, 358, dtype=torch.bool)
    mask[0, 352:] = True
    box = torch.tensor([[0.0, 340.0, 40.0, 358.0]])
    out = masked_roi_features(torch.ones(1, 1, 96, 96), [box], [mask], output_size=(6, 11), mask_grid="reference")
    assert out[0, 0, :, 0].tolist() == [0, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="mask_grid must be one of"):
        masked_roi_features(feat, boxes, masks, mask_grid="opencv")


def test_roi_matches_per_instance_reference_and_backpropagates():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(3, 6, 50, 70, generator=g, requires_grad=True)
    boxes, masks = [], []
    for n, hm, wm in [(25, 200, 280), (0, 200, 280), (20, 190, 262)]:  # odd mask sizes round
        xy = torch.rand(n, 2, generator=g) * torch.tensor([wm, hm])
        wh = torch.rand(n, 2, generator=g) * torch.tensor([150.0, 80.0]) + torch.rand(n, 1, generator=g) * 3
        bx = torch.cat([xy, xy + wh], 1)
        if n:
            bx[:4, 2] = bx[:4, 0] + 8  # tall ones
            bx[:4, 3] = bx[:4, 1] + 120
            bx[4] = torch.tensor([500.0, 500.0, 600.0, 600.0])  # outside
        boxes.append(bx)
        masks.append(torch.rand(n, hm, wm, generator=g) > 0.3)
    out = masked_roi_features(feat, boxes, masks)
    ref = _reference_masked_roi(feat, boxes, masks)
    assert out.shape == (45, 6, 8, 32)
    assert torch.allclose(out, ref, atol=1e-5)
    (grad,) = torch.autograd.grad((out * torch.arange(32.0)).sum(), feat)
    (grad_ref,) = torch.autograd.grad((ref * torch.arange(32.0)).sum(), feat)
    assert torch.allclose(grad, grad_ref, atol=1e-4)
    # Masks already at the feature stride give the same numbers.
    quarter = [F.interpolate(m[:, None].float(), scale_factor=0.25, mode="nearest")[:, 0] if len(m) else m[:, :50, :70]
               for m in masks[:2]]
    out_q = masked_roi_features(feat[:2], boxes[:2], quarter, mask_stride=4)
    assert torch.allclose(out_q, out[:25], atol=1e-6)


# ------------------------------------------------------------------------------------------
# Losses
# ------------------------------------------------------------------------------------------


def _ce(row, gold):
    return -(row[gold] - math.log(sum(math.exp(v) for v in row)))


def test_recognition_loss_known_values():
    l0 = [[2.0, 0.5, 1.0, -1.0], [0.0, 1.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]]
    l1 = [[0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 5.0]]
    logits = torch.tensor([l0, l1], requires_grad=True)
    # Row 0: "c" then EOS (2 tokens, step 2 is pad); row 1: "b", "c", EOS (3 tokens).
    targets = torch.tensor([[0, 2, 1, 0], [0, 3, 2, 1]])
    expected = (_ce(l0[0], 2) + _ce(l0[1], 1) + _ce(l1[0], 3) + _ce(l1[1], 2) + _ce(l1[2], 1)) / 5
    loss = recognition_loss(logits, targets)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert torch.all(logits.grad[0, 2] == 0)  # the ignored pad step gets no gradient
    # EOS (1) is a real target: changing the EOS logit changes the loss.
    logits2 = logits.detach().clone()
    logits2[0, 1, 1] += 1.0
    assert recognition_loss(logits2, targets).item() < loss.item()


def test_feature_kd_loss_is_plain_mse():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = feature_kd_loss(a, torch.zeros(2, 2))
    assert loss.item() == pytest.approx(7.5)
    loss.backward()
    assert torch.allclose(a.grad, a.detach() / 2)


def test_sequence_kd_loss_known_value():
    # Teacher rows: step 0 argmax class 2, step 1 argmax EOS → pseudo label (2, EOS); the
    # runner-up is (3, EOS).
    teacher = torch.log(torch.tensor([[[0.01, 0.04, 0.6, 0.35], [0.05, 0.7, 0.1, 0.15], [0.1, 0.7, 0.1, 0.1]]]))
    s = [[0.0, 1.0, 2.0, 0.5], [0.3, 1.5, 0.2, 0.0], [9.0, 0.0, 0.0, 0.0]]
    student = torch.tensor([s], requires_grad=True)
    p = [math.exp(v) / sum(math.exp(u) for u in row) for row, v in ((s[0], s[0][2]), (s[1], s[1][1]))]
    expected = -math.log(p[0] * p[1] + 1e-5)
    loss = sequence_kd_loss(student, teacher)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert torch.all(student.grad[0, 2] == 0)  # the step after EOS is not scored
    # Two paths: the loss averages over N × k.
    p3 = math.exp(s[0][3]) / sum(math.exp(u) for u in s[0])
    expected2 = (expected - math.log(p3 * p[1] + 1e-5)) / 2
    assert sequence_kd_loss(student, teacher, topk=2).item() == pytest.approx(expected2, rel=1e-5)
    # The 1e-5 floor: a student that puts ~0 on the path costs at most -log(1e-5).
    hopeless = torch.full((1, 3, 4), -50.0)
    hopeless[..., 0] = 50.0
    assert sequence_kd_loss(hopeless, teacher).item() == pytest.approx(-math.log(1e-5), rel=1e-4)


def test_fixed_row_beam_beats_per_step_argmax():
    # Per-step argmax cut at the first EOS gives (a, EOS): sqrt(0.9·0.4) = 0.600.
    # The beam finds (a, b, EOS): (0.9·0.35·0.95)^(1/3) = 0.669 per token.
    rows = torch.tensor([[[0.0, 0.05, 0.9, 0.05], [0.0, 0.4, 0.25, 0.35], [0.0, 0.95, 0.03, 0.02]]])
    paths, lengths = beam_search_fixed_rows(rows.clamp(min=1e-9).log(), beam_width=5, topk=2)
    assert paths[0, 0].tolist() == [2, 3, 1] and lengths[0, 0].item() == 3
    assert paths[0, 1].tolist() == [2, 1, 0] and lengths[0, 1].item() == 2
    # With width 1 the search is greedy.
    paths1, _ = beam_search_fixed_rows(rows.clamp(min=1e-9).log(), beam_width=1, topk=1)
    assert paths1[0, 0].tolist() == [2, 1, 0]
    # GO/pad (class 0) is never emitted, even where it is the teacher's argmax.
    go_rows = torch.tensor([[[0.1, 0.0, 0.9, 0.0], [0.9, 0.05, 0.05, 0.0], [0.0, 1.0, 0.0, 0.0]]])
    p, l = beam_search_fixed_rows(go_rows.clamp(min=1e-9).log(), beam_width=3)
    # (a, a, EOS) per token: (0.9·0.05·1)^(1/3) beats (a, EOS): (0.9·0.05)^(1/2).
    assert p[0, 0].tolist() == [2, 2, 1] and l[0, 0].item() == 3
    # A path that never emits EOS is cut at T tokens.
    no_eos = torch.tensor([[[0.0, 0.0, 1.0, 0.0]] * 3]).clamp(min=1e-9).log()
    p, l = beam_search_fixed_rows(no_eos, beam_width=2)
    assert p[0, 0].tolist() == [2, 2, 2] and l[0, 0].item() == 3


# ------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------


def _bigram_decoder(transitions):
    """A decoder whose next-symbol distribution depends only on the previous symbol.

    transitions[prev][y] = P(y | prev). The LSTMCell ignores the attention context and its own
    state (saturated gates), so h = tanh(tanh(20)) · onehot(prev) and the generator maps that
    to log P(· | prev).
    """
    k = len(transitions)
    dec = AttentionDecoder(input_size=4, hidden_size=k, num_classes=k, num_steps=3)
    rnn = dec.attention_cell.rnn
    with torch.no_grad():
        for p in rnn.parameters():
            p.zero_()
        # Gate blocks (i, f, g, o): input on, forget off, output on; g reads the one-hot input.
        rnn.bias_ih[:k] = 30.0
        rnn.bias_ih[k : 2 * k] = -30.0
        rnn.bias_ih[3 * k :] = 30.0
        rnn.weight_ih[2 * k : 3 * k, 4:] = 20.0 * torch.eye(k)
        h_on = math.tanh(math.tanh(20.0))
        log_t = torch.tensor(transitions).clamp(min=1e-12).log()
        dec.generator.weight.copy_(log_t.t() / h_on)
        dec.generator.bias.zero_()
    return dec.eval()


def test_greedy_and_beam_agree_on_peaked_distributions():
    # Classes: 0 GO, 1 EOS, 2 'a', 3 'b'. GO → a → b → EOS, each with probability 0.97.
    t = [[0.0, 0.01, 0.97, 0.02], [0.97, 0.01, 0.01, 0.01], [0.0, 0.02, 0.01, 0.97], [0.0, 0.97, 0.02, 0.01]]
    dec = _bigram_decoder(t)
    h = torch.randn(5, 7, 4)
    greedy = decode_greedy(dec.greedy(h)[0])
    for width in (1, 2, 3):
        beam = dec.beam_search(h, width)
        assert torch.equal(beam.ids, greedy.ids) and torch.equal(beam.lengths, greedy.lengths)
        assert torch.allclose(beam.scores, greedy.scores, atol=1e-5)
    assert greedy.ids[0].tolist() == [2, 3] and greedy.lengths[0].item() == 2
    assert greedy.scores[0].item() == pytest.approx(0.97, rel=1e-4)  # geometric mean of a, b, EOS


def test_beam_finds_a_better_path_than_greedy():
    # From GO: a 0.6, b 0.4. After a: a 0.36, b 0.34, EOS 0.30. After b: EOS 0.95.
    t = [[0.0, 0.0, 0.6, 0.4], [0.25, 0.25, 0.25, 0.25], [0.0, 0.30, 0.36, 0.34], [0.0, 0.95, 0.03, 0.02]]
    dec = _bigram_decoder(t)
    h = torch.randn(1, 7, 4)
    greedy = decode_greedy(dec.greedy(h)[0])
    # Greedy: a, a, a — no EOS within T=3 steps, so the whole T-1 = 2 character text is kept.
    assert greedy.ids[0].tolist() == [2, 2] and greedy.lengths.item() == 2
    assert greedy.scores.item() == pytest.approx((0.6 * 0.36 * 0.36) ** (1 / 3), rel=1e-4)
    beam = dec.beam_search(h, beam_width=2)
    assert beam.ids[0].tolist() == [3, 0] and beam.lengths.item() == 1
    assert beam.scores.item() == pytest.approx((0.4 * 0.95) ** 0.5, rel=1e-4)


def test_teacher_forcing_on_greedy_symbols_reproduces_greedy_logits():
    dec = AttentionDecoder(input_size=16, hidden_size=16, num_classes=10, num_steps=6).eval()
    h = torch.randn(3, 33, 16)
    logits, symbols = dec.greedy(h)
    targets = torch.cat([torch.zeros(3, 1, dtype=torch.long), symbols], 1)  # [GO], y1..yT
    assert torch.allclose(dec(h, targets), logits, atol=1e-6)


# ------------------------------------------------------------------------------------------
# The branch
# ------------------------------------------------------------------------------------------


def _scene(n_per_image=(2, 3), channels=8, hw=(64, 160), seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = hw
    p2 = torch.randn(len(n_per_image), channels, h // 4, w // 4, generator=g)
    boxes, masks = [], []
    for n in n_per_image:
        xy = torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2])
        boxes.append(torch.cat([xy, xy + torch.tensor([60.0, 20.0])], 1))
        masks.append(torch.ones(n, h, w, dtype=torch.bool))
    return p2, boxes, masks


def test_branch_outputs_come_from_one_computation():
    branch = RecognitionBranch(num_classes=97, channels=32, in_channels=8)
    p2, boxes, masks = _scene()
    targets = torch.zeros(5, 34, dtype=torch.long)
    targets[:, :4] = torch.tensor([0, 13, 14, 1])
    out = branch(p2, boxes, masks, targets)
    assert out.logits.shape == (5, 33, 97)
    assert out.roi_features.shape == (5, 32, 8, 32)
    assert out.context.shape == (5, 33, 32)
    branch.eval()
    out = branch(p2, boxes, masks, targets)
    assert torch.allclose(branch.decoder(out.context, targets), out.logits, atol=1e-6)
    greedy = branch(p2, boxes, masks)
    assert torch.allclose(branch.decoder.greedy(out.context)[0], greedy.logits, atol=1e-6)
    pred = branch.predict(p2, boxes, masks)
    assert pred.ids.shape == (5, 32) and pred.lengths.shape == (5,) and pred.scores.shape == (5,)
    assert branch.predict(p2, boxes, masks, beam_width=3).ids.shape == (5, 32)


def test_wider_roi_gives_one_more_sequence_position_than_columns():
    # MODEL.TEXT_HEAD.ROI_WIDTH: an 8×W RoI gives W + 1 positions, and a word keeps every P2
    # column of a 64-column crop (an 8×32 RoI halves them).
    enc = LightCRNN(16, 16)
    assert LightCRNN.to_sequence(enc(torch.randn(2, 16, 8, 64))).shape == (2, 65, 16)
    branch = RecognitionBranch(num_classes=97, channels=16, in_channels=8, roi_width=64)
    feat = _ramp(20, 80, c=8)
    # x 8..264 / 4 = 2..66, grown by 1: columns 1..67 (66 cells); y rows 1..9 (8 rows).
    boxes = [torch.tensor([[8.0, 9.0, 264.0, 33.0]])]
    roi = masked_roi_features(feat, boxes, None, output_size=(8, 64))
    assert roi.shape == (1, 8, 8, 64)
    # The ramp's value is the column: 64 outputs step ~1 column (66/64), 32 outputs skip every other.
    step = roi[0, 0, 0].diff()
    assert step.min() > 0.99 and step.max() < 1.1
    narrow = masked_roi_features(feat, boxes, None)[0, 0, 0].diff()
    assert narrow.min() > 2.0
    targets = torch.zeros(1, 34, dtype=torch.long)
    targets[0, :4] = torch.tensor([0, 13, 14, 1])
    out = branch(feat, boxes, None, targets)
    assert out.roi_features.shape == (1, 16, 8, 64) and out.context.shape == (1, 65, 16)
    assert out.logits.shape == (1, 33, 97)  # decoder steps follow the text length, not W
    empty = branch(feat, [torch.zeros(0, 4)], None, torch.zeros(0, 34, dtype=torch.long))
    assert empty.roi_features.shape == (0, 16, 8, 64) and empty.context.shape == (0, 65, 16)
    branch.eval()
    assert branch.predict(feat, boxes).ids.shape == (1, 32)
    with pytest.raises(ValueError, match="roi_width"):
        RecognitionBranch(roi_width=0)


def test_supersampled_roi_reads_every_cell_of_a_shrunk_crop():
    # MODEL.TEXT_HEAD.ROI_SUPERSAMPLE: a 128-column crop shrunk to 32 columns. Bilinear alone
    # reads columns 4d+2 and 4d+3 of it; averaging a 4× finer crop reads all four.
    from dld_d2.modeling.recognition import MaskedRoIExtractor

    cols = torch.arange(140)
    p2 = (cols % 4 == 0).float().expand(1, 1, 16, 140).contiguous()  # a 1-in-4 stripe
    boxes = [torch.tensor([[8.0, 8.0, 512.0, 40.0]])]  # P2 columns 1..129 once grown
    out = {}
    for s in (1, 4):
        ext = MaskedRoIExtractor(1, 1, supersample=s).eval()
        with torch.no_grad():  # conv, BN and ReLU as the identity
            ext.conv.weight.zero_()
            ext.conv.weight[0, 0, 1, 1] = 1.0
            out[s] = ext(p2, boxes)
    assert out[1].shape == out[4].shape == (1, 1, 8, 32)
    assert torch.allclose(out[1], torch.zeros(1), atol=1e-4)  # the stripe is never read
    assert torch.allclose(out[4], torch.full((1,), 0.25), atol=1e-4)  # read at its true density
    with pytest.raises(ValueError, match="supersample"):
        MaskedRoIExtractor(1, 1, supersample=0)


def test_branch_with_no_instances():
    branch = RecognitionBranch(num_classes=97, channels=16, in_channels=8)
    p2 = torch.randn(2, 8, 16, 40)
    boxes = [torch.zeros(0, 4), torch.zeros(0, 4)]
    masks = [torch.zeros(0, 64, 160, dtype=torch.bool)] * 2
    out = branch(p2, boxes, masks, torch.zeros(0, 34, dtype=torch.long))
    assert out.logits.shape == (0, 33, 97) and out.roi_features.shape == (0, 16, 8, 32)
    assert out.context.shape == (0, 33, 16)
    loss = (
        recognition_loss(out.logits, torch.zeros(0, 34, dtype=torch.long))
        + sequence_kd_loss(out.logits, out.logits.detach())
        + feature_kd_loss(out.roi_features, out.roi_features.detach())
        + feature_kd_loss(out.context, out.context.detach())
    )
    assert loss.item() == 0.0
    loss.backward()
    # Every parameter took part (zero gradient), as DistributedDataParallel requires.
    assert all(p.grad is not None and torch.all(p.grad == 0) for p in branch.parameters())
    branch.eval()
    for width in (1, 4):
        pred = branch.predict(p2, boxes, masks, beam_width=width)
        assert pred.ids.shape == (0, 32) and pred.lengths.shape == (0,) and pred.scores.shape == (0,)
        assert branch.decode(torch.zeros(0, 33, 16), beam_width=width).ids.shape == (0, 32)
    assert masked_roi_features(p2, boxes, masks).shape == (0, 8, 8, 32)


def test_images_without_instances_in_a_batch():
    branch = RecognitionBranch(num_classes=97, channels=16, in_channels=8).eval()
    p2, boxes, masks = _scene((0, 3, 0))
    with torch.no_grad():
        out = branch(p2, boxes, masks)
        alone = branch(p2[1:2], boxes[1:2], masks[1:2])
    assert out.logits.shape == (3, 33, 97)
    assert torch.allclose(out.roi_features, alone.roi_features, atol=1e-6)
    assert torch.allclose(out.logits, alone.logits, atol=1e-5)


def test_branch_overfits_a_fixed_word():
    torch.manual_seed(0)
    branch = RecognitionBranch(num_classes=97, channels=32, in_channels=8)
    p2 = torch.randn(1, 8, 16, 40)
    boxes = [torch.tensor([[8.0, 12.0, 120.0, 44.0]])]
    masks = [torch.ones(1, 64, 160, dtype=torch.bool)]
    word = [39, 14, 3]  # "Ab1" in the built-in vocabulary
    targets = torch.zeros(1, 34, dtype=torch.long)
    targets[0, 1:5] = torch.tensor(word + [EOS_ID])
    opt = torch.optim.Adam(branch.parameters(), lr=3e-3)
    read = None
    for step in range(100):
        loss = recognition_loss(branch(p2, boxes, masks, targets).logits, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5 == 4:
            branch.eval()
            pred = branch.predict(p2, boxes, masks)
            branch.train()
            read = pred.ids[0, : pred.lengths[0]].tolist()
            if read == word:
                break
    assert read == word, f"read {read} after {step + 1} steps (loss {loss.item():.3f})"
    branch.eval()
    beam = branch.predict(p2, boxes, masks, beam_width=3)
    assert beam.ids[0, :3].tolist() == word and beam.lengths.item() == 3


def test_ctc_loss_known_value_on_uniform_logits():
    from math import comb, log

    from dld_d2.modeling.recognition import ctc_loss

    # Uniform over C classes for S steps: every one of the C(S + L, 2L) alignments of a label
    # of L distinct characters has probability C^-S; the loss is divided by L.
    steps, classes = 33, 97
    targets = torch.tensor([[0, 5, 7, 1, 0, 0], [0, 9, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    logits = torch.zeros(3, steps, classes, requires_grad=True)
    expected = [(steps * log(classes) - log(comb(steps + 2, 4))) / 2,
                steps * log(classes) - log(comb(steps + 1, 2))]
    loss = ctc_loss(logits, targets)  # the empty third row (an OOV word) is left out
    assert float(loss) == pytest.approx(sum(expected) / 2, rel=1e-5)
    loss.backward()
    assert logits.grad[2].abs().sum() == 0 and logits.grad[0].abs().sum() > 0
    assert float(ctc_loss(torch.zeros(0, steps, classes), targets[:0])) == 0.0


# ------------------------------------------------------------------------------------------
# Reading with the CTC head (MODEL.TEXT_HEAD.DECODER "ctc" / "joint")
# ------------------------------------------------------------------------------------------


def test_ctc_greedy_merges_repeats_drops_blanks_and_cuts():
    from dld_d2.modeling.recognition import ctc_greedy

    path = [0, 5, 5, 0, 5, 7, 7, 0, 9, 1]  # 1 (EOS) is never read: its position is a blank
    logits = torch.full((1, len(path), 12), -30.0)
    logits[0, torch.arange(len(path)), torch.tensor(path)] = 30.0
    logits[0, 9, 0] = 29.0  # EOS is excluded, so this position reads the blank
    out = ctc_greedy(logits, max_length=6)
    assert out.ids.shape == (1, 6)
    assert out.ids[0].tolist() == [5, 5, 7, 9, 0, 0] and out.lengths.tolist() == [4]
    assert float(out.scores[0]) == pytest.approx(1.0, abs=1e-4)
    cut = ctc_greedy(logits, max_length=2)
    assert cut.ids[0].tolist() == [5, 5] and cut.lengths.tolist() == [2]


def test_ctc_greedy_on_uniform_logits_reads_nothing_with_the_known_score():
    from dld_d2.modeling.recognition import ctc_greedy

    steps, classes = 33, 97
    out = ctc_greedy(torch.zeros(2, steps, classes), max_length=32)
    assert out.lengths.tolist() == [0, 0]
    # The empty text has one alignment (all blanks): p = (1 / (C - 1))^S without EOS; score p^(1/1).
    assert float(out.scores[0]) == pytest.approx((1 / (classes - 1)) ** steps, rel=1e-4)


def test_ctc_sequence_log_prob_sums_every_alignment():
    import itertools

    from dld_d2.modeling.recognition import ctc_sequence_log_prob
    from dld_d2.modeling.recognition.ctc_decoding import ctc_log_probs

    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5)
    log_probs = ctc_log_probs(logits)
    ids = torch.tensor([[2, 3], [4, 4]])
    lengths = torch.tensor([2, 2])
    got = ctc_sequence_log_prob(log_probs, ids, lengths)
    for i in range(2):
        total = 0.0
        for path in itertools.product([0, 2, 3, 4], repeat=4):  # EOS (1) has probability 0
            merged = [c for j, c in enumerate(path) if c != 0 and (j == 0 or c != path[j - 1])]
            if merged == ids[i].tolist():
                total += math.exp(sum(float(log_probs[i, t, c]) for t, c in enumerate(path)))
        assert float(got[i]) == pytest.approx(math.log(total), rel=1e-5)
    # Too long for 2 positions ("aa" needs a blank between): impossible, -inf.
    assert ctc_sequence_log_prob(log_probs[:, :2], ids, lengths)[1] == float("-inf")


def test_attention_sequence_log_prob_is_the_teacher_forced_loss():
    torch.manual_seed(0)
    dec = AttentionDecoder(16, 16, 12, num_steps=6)
    h = torch.randn(3, 7, 16)
    ids = torch.tensor([[4, 5, 6, 0, 0], [7, 0, 0, 0, 0], [2, 3, 4, 5, 6]])
    lengths = torch.tensor([3, 1, 5])
    got = dec.sequence_log_prob(h, ids, lengths)
    for i in range(3):
        targets = torch.zeros(1, 7, dtype=torch.long)
        n = int(lengths[i])
        targets[0, 1 : n + 1] = ids[i, :n]
        targets[0, n + 1] = EOS_ID
        expected = -recognition_loss(dec(h[i : i + 1], targets), targets) * (n + 1)
        assert float(got[i]) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="up to 5 characters"):
        dec.sequence_log_prob(h[:1], torch.ones(1, 6, dtype=torch.long) * 3, torch.tensor([6]))


def test_branch_trained_with_ctc_reads_a_word_with_every_decoder():
    from dld_d2.modeling.recognition import ctc_loss

    torch.manual_seed(0)
    branch = RecognitionBranch(num_classes=97, channels=32, in_channels=8, aux_ctc=True)
    p2 = torch.randn(1, 8, 16, 40)
    boxes = [torch.tensor([[8.0, 12.0, 120.0, 44.0]])]
    masks = [torch.ones(1, 64, 160, dtype=torch.bool)]
    word = [39, 14, 3]
    targets = torch.zeros(1, 34, dtype=torch.long)
    targets[0, 1:5] = torch.tensor(word + [EOS_ID])
    opt = torch.optim.Adam(branch.parameters(), lr=3e-3)
    reads = {}
    for step in range(200):
        out = branch(p2, boxes, masks, targets)
        loss = recognition_loss(out.logits, targets) + ctc_loss(branch.ctc_head(out.context), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            branch.eval()
            for decoder in ("attention", "ctc", "joint"):
                pred = branch.predict(p2, boxes, masks, decoder=decoder)
                reads[decoder] = (pred.ids[0, : pred.lengths[0]].tolist(), float(pred.scores[0]))
            branch.train()
            if all(r[0] == word for r in reads.values()):
                break
    assert all(r[0] == word for r in reads.values()), f"after {step + 1} steps: {reads}"
    assert all(0.5 < r[1] <= 1.0 for r in reads.values()), reads
    branch.eval()
    # Joint scoring with weight 0 is the attention's own per-token probability of its text.
    joint0 = branch.predict(p2, boxes, masks, decoder="joint", ctc_weight=0.0)
    att = branch.predict(p2, boxes, masks)
    assert float(joint0.scores[0]) == pytest.approx(float(att.scores[0]), rel=1e-4)


def test_ctc_decoders_need_the_ctc_head():
    branch = RecognitionBranch(num_classes=12, channels=16, in_channels=8)
    context = torch.randn(2, 33, 16)
    with pytest.raises(ValueError, match="needs the CTC head"):
        branch.decode(context, decoder="ctc")
    with pytest.raises(ValueError, match="decoder must be one of"):
        branch.decode(context, decoder="beam")
