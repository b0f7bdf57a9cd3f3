"""DLD parts: resolution selector, temperature schedule, penalty, per-scale scoring, replay bank,
low-resolution geometry (pure torch) and the low-resolution view of a batch (Detectron2)."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dld_d2.modeling.dld.penalty import ResolutionPenalty, resolution_penalty
from dld_d2.modeling.dld.scale_scoring import best_scale_targets, combine_scale_logits, scale_token_losses
from dld_d2.modeling.dld.schedule import epoch_length, epoch_of, temperature
from dld_d2.modeling.dld.selector import ResolutionSelector, select_scales, selector_views

SCALES = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# ----------------------------------------------------------------------------- selector


def test_selector_output_shape():
    torch.manual_seed(0)
    sel = ResolutionSelector().eval()
    with torch.no_grad():
        logits = sel(torch.randn(2, 3, 96, 160))
    assert logits.shape == (2, 6)
    assert torch.isfinite(logits).all()
    # Odd sizes work too (the selector sees each image cropped to its own padded size).
    assert sel(torch.randn(1, 3, 77, 131)).shape == (1, 6)


def test_selector_uses_every_layer():
    sel = ResolutionSelector().eval()
    called = set()
    for name, m in sel.named_modules():
        if any(True for _ in m.parameters(recurse=False)):
            m.register_forward_hook(lambda mod, inp, out, name=name: called.add(name))
    sel(torch.randn(1, 3, 64, 64))
    leaves = {n for n, m in sel.named_modules() if any(True for _ in m.parameters(recurse=False))}
    assert len(leaves) == 2 + 4 * 6 + 1 and called == leaves
    # Shortcut BN runs (its bias shifts the output), even where block widths match.
    before = sel(torch.ones(1, 3, 64, 64))
    with torch.no_grad():
        sel.bs1.bn3.bias.fill_(5.0)
    assert not torch.allclose(sel(torch.ones(1, 3, 64, 64)), before)


def test_selector_parameter_count():
    # Stem: 3·32·49 + 32 (conv) + 2·32 (BN) = 4800.
    # Block(c, d): 9cd + 9d² + cd (three conv weights) + 3d (biases) + 6d (BN) = 10cd + 9d² + 9d.
    def block(c, d):
        return 10 * c * d + 9 * d * d + 9 * d

    expected = 4800 + block(32, 32) + block(32, 64) + block(64, 128) + block(128, 256) + 256 * 6 + 6
    assert expected == 1_234_342
    assert sum(p.numel() for p in ResolutionSelector().parameters()) == expected


def test_selector_widths_and_num_scales_honoured():
    sel = ResolutionSelector(num_scales=4, widths=(8, 12, 16, 24, 40))
    assert sel.conv1.out_channels == 8
    assert [sel.bs1.conv1.out_channels, sel.bs2.conv1.out_channels] == [12, 16]
    assert [sel.bs3.downsample.out_channels, sel.bs4.conv2.out_channels] == [24, 40]
    assert (sel.fc.in_features, sel.fc.out_features) == (40, 4)
    assert sel(torch.randn(2, 3, 64, 64)).shape == (2, 4)
    # No max-pool is built (DAVAR constructs one but never uses it).
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in sel.modules())
    with pytest.raises(ValueError):
        ResolutionSelector(widths=(32, 64, 128))


def test_select_scales_gumbel_one_hot_with_gradient():
    torch.manual_seed(0)
    logits = torch.randn(5, 6, requires_grad=True)
    h = select_scales(logits, tau=2.0, mode="gumbel")
    assert h.shape == (5, 6)
    assert torch.equal(h.sum(dim=1), torch.ones(5))
    assert set(h.detach().unique().tolist()) <= {0.0, 1.0}
    # Straight-through: the hard one-hot still carries the soft sample's gradient.
    weights = torch.arange(6, dtype=torch.float32)
    (h * weights).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 1e-6


def test_select_scales_argmax_and_sample():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    expected = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    for _ in range(3):
        assert torch.equal(select_scales(logits, mode="argmax"), expected)
    # Sampling follows softmax(logits): with one dominant class it is (almost surely) chosen.
    torch.manual_seed(0)
    peaked = torch.tensor([[0.0, 30.0, 0.0]])
    sampled = select_scales(peaked, tau=0.01, mode="sample")
    assert torch.equal(sampled, torch.tensor([[0.0, 1.0, 0.0]]))
    # ... and with flat logits different draws pick different classes.
    flat = torch.zeros(200, 3)
    counts = select_scales(flat, mode="sample").sum(dim=0)
    assert (counts > 30).all()
    with pytest.raises(ValueError):
        select_scales(logits, mode="softmax")


# ----------------------------------------------------------------------------- schedule


# The paper's 50 epochs: 5.00, 3.50 (= 3.501), 1.717, 0.873.
@pytest.mark.parametrize("epoch, tau", [(0, 5.0), (10, 3.501), (30, 1.717), (49, 0.873)])
def test_temperature(epoch, tau):
    assert round(temperature(epoch), 3) == pytest.approx(tau, abs=1e-9)


def test_temperature_other_decay():
    assert temperature(2, tau0=1.0, decay=0.5) == 0.25


def test_epoch_bookkeeping():
    assert epoch_length(1255, 24) == 53  # ceil(52.29)
    assert epoch_length(48, 24) == 2
    assert epoch_length(0, 24) == 1
    assert [epoch_of(i, 53) for i in (0, 52, 53, 105, 106)] == [0, 0, 1, 1, 2]
    with pytest.raises(ValueError):
        epoch_length(10, 0)


def test_resolution_penalty_spec_values():
    one_hot = torch.eye(6)
    assert float(resolution_penalty(one_hot[5:6], SCALES, 0.1)) == pytest.approx(0.0716, abs=5e-5)
    assert float(resolution_penalty(one_hot[0:1], SCALES, 0.1)) == pytest.approx(0.0164, abs=5e-5)
    # Mixed batch: mean over images of the chosen scale^1.5, times γ.
    mixed = one_hot[[0, 2, 5]]
    expected = 0.3 * (0.3**1.5 + 0.5**1.5 + 0.8**1.5) / 3
    assert float(resolution_penalty(mixed, SCALES, 0.3)) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.1 * (0.16432 + 0.35355 + 0.71554), abs=1e-5)
    # Other exponent.
    assert float(resolution_penalty(one_hot[5:6], SCALES, 1.0, exponent=2.0)) == pytest.approx(0.64)


def test_resolution_penalty_costs_and_gradient():
    costs = [0.10, 0.18, 0.27, 0.40, 0.55, 0.72]
    h = torch.eye(6)[[1, 4]].requires_grad_()
    value = resolution_penalty(h, SCALES, 0.5, costs=costs)
    assert value.item() == pytest.approx(0.5 * (0.18 + 0.55) / 2)
    value.backward()
    # d/dh_{b,i} = γ · cost_i / B.
    assert torch.allclose(h.grad, 0.5 * torch.tensor([costs, costs]) / 2)


def test_resolution_penalty_of_a_configuration():
    decisions = torch.eye(6)[[0, 5]]
    plain = ResolutionPenalty(SCALES, 0.1)
    assert torch.allclose(plain.costs(decisions), torch.tensor(SCALES) ** 1.5)
    assert float(plain(decisions)) == pytest.approx(float(resolution_penalty(decisions, SCALES, 0.1)))
    table = ResolutionPenalty(SCALES, 0.5, costs=(1, 2, 3, 4, 5, 6))
    assert float(table(decisions)) == pytest.approx(0.5 * (1 + 6) / 2)
    with pytest.raises(ValueError, match="3 PENALTY_COSTS for 6 SCALES"):
        ResolutionPenalty(SCALES, 0.1, costs=(1, 2, 3))


def test_selector_views_crop_each_image_to_its_own_padded_region():
    batch = torch.randn(2, 3, 96, 160)
    views = selector_views(batch, [(70, 100), (96, 160)])
    assert [tuple(v.shape) for v in views] == [(1, 3, 96, 128), (1, 3, 96, 160)]
    assert views[0].data_ptr() == batch.data_ptr()  # views, not copies


def test_combine_scale_logits_picks_chosen_scale():
    gen = torch.Generator().manual_seed(0)
    K, T, C = 6, 5, 7
    z = [torch.randn(K, n, T, C, generator=gen) for n in (2, 0, 3)]
    h = torch.eye(K)[[4, 1, 0]].requires_grad_()
    out = combine_scale_logits(h, z)
    assert out.shape == (5, T, C)
    assert torch.equal(out[:2], z[0][4])
    assert torch.equal(out[2:], z[2][0])
    out.sum().backward()
    # dΣ/dh_{b,i} = ΣZ_{b,i}; the empty image's row is all zero.
    expected = torch.stack([zb.sum(dim=(1, 2, 3)) for zb in z])
    assert torch.allclose(h.grad, expected, atol=1e-5)
    assert h.grad[0].abs().sum() > 0 and torch.equal(h.grad[1], torch.zeros(K))


def test_combine_scale_logits_gradient_from_selector_and_all_empty():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, requires_grad=True)
    h = select_scales(logits, tau=1.0, mode="gumbel")
    z = [torch.randn(3, 1, 4, 5), torch.randn(3, 2, 4, 5)]
    combined = combine_scale_logits(h, z).reshape(-1, 5)
    F.cross_entropy(combined, torch.zeros(12, dtype=torch.long)).backward()
    assert logits.grad.abs().sum() > 0
    # No instances at all: (0, T, C), still on the decisions' graph.
    h2 = torch.eye(3)[[0, 2]].requires_grad_()
    empty = combine_scale_logits(h2, [torch.zeros(3, 0, 4, 5), torch.zeros(3, 0, 4, 5)])
    assert empty.shape == (0, 4, 5) and empty.requires_grad



@pytest.mark.parametrize("gamma", [0.0, 0.1, 100.0])
def test_best_scale_targets_minimise_the_code_objective(gamma):
    """The per-image targets are the one-hot decisions with the lowest loss_rs + loss_penalty
    ("ce" form), found by trying every combination; an image without words goes cheapest."""
    import itertools

    from dld_d2.modeling.recognition import recognition_loss

    torch.manual_seed(3)
    k, steps, c = 3, 4, 6
    scales = torch.tensor([0.4, 0.6, 0.8])
    z = [torch.randn(k, 2, steps, c) * 3, torch.randn(k, 1, steps, c) * 3, torch.randn(k, 0, steps, c)]
    rows = [torch.tensor([[0, 2, 3, 1, 0], [0, 4, 1, 0, 0]]), torch.tensor([[0, 5, 5, 2, 1]]),
            torch.zeros(0, 5, dtype=torch.long)]
    targets = torch.cat(rows)
    num_tokens = int((targets[:, 1 : steps + 1] != 0).sum())
    token_losses = scale_token_losses(z, rows)
    assert token_losses.shape == (3, k) and torch.all(token_losses[2] == 0)
    for i in range(k):  # the sums give back recognition_loss at one scale for all images
        one = torch.cat([zb[i] for zb in z])
        assert token_losses[:, i].sum() / num_tokens == pytest.approx(float(recognition_loss(one, targets)), rel=1e-5)

    def objective(choice):
        h = F.one_hot(torch.tensor(choice), k).float()
        return float(recognition_loss(combine_scale_logits(h, z), targets)
                     + resolution_penalty(h, scales, gamma))

    best = min(itertools.product(range(k), repeat=3), key=objective)
    got = best_scale_targets(token_losses, num_tokens, scales**1.5, gamma).tolist()
    assert objective(tuple(got)) == pytest.approx(objective(best), abs=1e-6)
    if gamma > 0:
        assert got[2] == 0  # no words: only the cost counts
    if gamma == 100.0:
        assert got == [0, 0, 0]  # a high cost weight sends every image to the smallest scale


# ----------------------------------------------------------------------------- low-res view


def _structures():
    from detectron2.structures import BitMasks, Boxes, ImageList, Instances, PolygonMasks

    return BitMasks, Boxes, ImageList, Instances, PolygonMasks


def _rect_image_and_target(h, w, rect, pad_to=None, device="cpu", mask_kind="bitmask"):
    """Zero image with a 1-valued rectangle [x0, x1) × [y0, y1) and its GT, batched."""
    BitMasks, Boxes, ImageList, Instances, PolygonMasks = _structures()
    x0, y0, x1, y1 = rect
    img = torch.zeros(3, h, w, device=device)
    img[:, y0:y1, x0:x1] = 1.0
    inst = Instances((h, w))
    inst.gt_boxes = Boxes(torch.tensor([[x0, y0, x1, y1]], dtype=torch.float32, device=device))
    inst.gt_classes = torch.zeros(1, dtype=torch.long, device=device)
    inst.gt_texts = torch.tensor([[0, 39, 14, 3, 1, 0]], device=device)
    if mask_kind == "bitmask":
        mh, mw = pad_to or (h, w)
        m = torch.zeros(1, mh, mw, dtype=torch.bool, device=device)
        m[0, y0:y1, x0:x1] = True
        inst.gt_masks = BitMasks(m)
    else:
        inst.gt_masks = PolygonMasks([[np.array([x0, y0, x1, y0, x1, y1, x0, y1], dtype=float)]])
    return ImageList.from_tensors([img], 32), [inst]


def _extent(mask2d):
    ys, xs = torch.nonzero(mask2d, as_tuple=True)
    return [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]


def test_scale_short_sides():
    from dld_d2.modeling.dld.lowres import scale_short_sides

    assert scale_short_sides([(896, 1344)] * 6, SCALES) == [268, 358, 448, 537, 627, 716]
    assert scale_short_sides([(1600, 768), (1280, 2000)], [0.5, 0.8]) == [384, 1024]


@pytest.mark.detectron2
@pytest.mark.parametrize("device", DEVICES)
def test_lowres_view_spec_sizes(device):
    from dld_d2.modeling.dld.lowres import scale_short_sides
    from dld_d2.modeling.dld.lowres_batch import lowres_view

    _, _, ImageList, _, _ = _structures()
    images = ImageList.from_tensors([torch.zeros(3, 896, 1344, device=device)], 32)
    short = scale_short_sides(images.image_sizes, [0.5])
    assert short == [448]
    view, targets, scales = lowres_view(images, short, 1600)
    assert targets is None
    assert view.image_sizes == [(448, 672)] and view.tensor.shape == (1, 3, 448, 672)
    assert view.tensor.device.type == device
    assert scales == [(0.5, 0.5)]

    # s = 0.8 on 896×1600: factor min(716/896, 1600/1600) = 0.7991…
    images = ImageList.from_tensors([torch.zeros(3, 896, 1600, device=device)], 32)
    short = scale_short_sides(images.image_sizes, [0.8])
    view, _, scales = lowres_view(images, short, 1600)
    assert short == [716]
    assert view.image_sizes == [(716, 1278)] and view.tensor.shape == (1, 3, 736, 1280)
    assert scales[0] == pytest.approx((716 / 896, 1278 / 1600))
    assert 1278 / 1600 == pytest.approx(0.799, abs=1e-3)

    # The long-side cap wins: 400×1000, short 300, cap 600 → factor 0.6 → 240×600.
    images = ImageList.from_tensors([torch.zeros(3, 400, 1000, device=device)], 32)
    view, _, scales = lowres_view(images, [300], 600)
    assert view.image_sizes == [(240, 600)] and view.tensor.shape == (1, 3, 256, 608)


@pytest.mark.detectron2
@pytest.mark.parametrize("scale", [0.3, 0.55, 0.8])
@pytest.mark.parametrize("mask_kind", ["bitmask", "polygon"])
def test_lowres_view_keeps_gt_aligned_with_pixels(scale, mask_kind):
    from dld_d2.modeling.dld.lowres import scale_short_sides
    from dld_d2.modeling.dld.lowres_batch import lowres_view

    rect = (61, 47, 183, 93)  # x0, y0, x1, y1
    images, targets = _rect_image_and_target(203, 301, rect, pad_to=(224, 320), mask_kind=mask_kind)
    short = scale_short_sides(images.image_sizes, [scale])
    view, new_targets, [(sy, sx)] = lowres_view(images, short, 1600, targets)
    nh, nw = view.image_sizes[0]
    assert (nh, nw) == (short[0], math.floor(301 * (short[0] / 203)))
    assert new_targets[0].image_size == (nh, nw)
    assert (sy, sx) == (nh / 203, nw / 301)

    white = view.tensor[0, 0, :nh, :nw] > 0.5
    box = new_targets[0].gt_boxes.tensor[0].tolist()
    expected = [rect[0] * sx, rect[1] * sy, rect[2] * sx, rect[3] * sy]
    assert box == pytest.approx(expected, rel=1e-6)
    assert np.abs(np.array(_extent(white)) - np.array(box)).max() <= 1.0
    masks = new_targets[0].gt_masks
    if mask_kind == "bitmask":
        assert masks.tensor.shape == (1, nh, nw) and masks.tensor.dtype == torch.bool
        m = masks.tensor[0]
        assert np.abs(np.array(_extent(m)) - np.array(box)).max() <= 1.0
        # Pixel-wise, mask and white pixels differ only on a 1-px rim.
        assert (m ^ white).sum() <= 2 * (nh + nw) and (m & white).sum() > 0.8 * white.sum()
    else:
        poly = masks.polygons[0][0]
        ex0, ey0, ex1, ey1 = expected
        assert poly[0::2].tolist() == pytest.approx([ex0, ex1, ex1, ex0])
        assert poly[1::2].tolist() == pytest.approx([ey0, ey0, ey1, ey1])
        m = _structures()[0].from_polygon_masks(masks, nh, nw).tensor[0]
        assert np.abs(np.array(_extent(m)) - np.array(_extent(white))).max() <= 1
    # Texts and classes travel unchanged.
    assert torch.equal(new_targets[0].gt_texts, targets[0].gt_texts)
    assert torch.equal(new_targets[0].gt_classes, targets[0].gt_classes)


@pytest.mark.detectron2
def test_lowres_view_image_without_instances():
    from dld_d2.modeling.dld.lowres_batch import lowres_view

    BitMasks, Boxes, ImageList, Instances, PolygonMasks = _structures()
    images = ImageList.from_tensors([torch.randn(3, 100, 160), torch.randn(3, 120, 90)], 32)
    empty_bit = Instances((100, 160), gt_boxes=Boxes(torch.zeros(0, 4)),
                          gt_classes=torch.zeros(0, dtype=torch.long),
                          gt_texts=torch.zeros(0, 34, dtype=torch.long),
                          gt_masks=BitMasks(torch.zeros(0, 128, 160, dtype=torch.bool)))
    empty_poly = Instances((120, 90), gt_boxes=Boxes(torch.zeros(0, 4)),
                           gt_classes=torch.zeros(0, dtype=torch.long),
                           gt_texts=torch.zeros(0, 34, dtype=torch.long), gt_masks=PolygonMasks([]))
    view, targets, _ = lowres_view(images, [50, 45], 1600, [empty_bit, empty_poly])
    assert view.image_sizes == [(50, 80), (60, 45)]
    assert [len(t) for t in targets] == [0, 0]
    assert targets[0].gt_masks.tensor.shape == (0, 50, 80)
    assert targets[1].gt_masks.polygons == [] and targets[1].gt_texts.shape == (0, 34)
    assert targets[1].image_size == (60, 45)


@pytest.mark.detectron2
@pytest.mark.parametrize("device", DEVICES)
def test_lowres_view_padded_batch_of_two(device):
    from dld_d2.modeling.dld.lowres_batch import lowres_view

    _, _, ImageList, _, _ = _structures()
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 200, 300, generator=gen).to(device)
    b = torch.randn(3, 160, 96, generator=gen).to(device)
    images = ImageList.from_tensors([a, b], 32)
    assert images.tensor.shape == (2, 3, 224, 320)
    view, _, scales = lowres_view(images, [100, 48], 1600)
    assert view.image_sizes == [(100, 150), (80, 48)]
    assert view.tensor.shape == (2, 3, 128, 160)
    assert scales == [(0.5, 0.5), (0.5, 0.5)]
    # Each image is resized from its own unpadded region (no padding leaks in), then zero-padded.
    for i, (img, (h, w)) in enumerate(zip([a, b], view.image_sizes)):
        ref = F.interpolate(img[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        assert torch.allclose(view.tensor[i, :, :h, :w], ref, atol=1e-6)
        assert view.tensor[i, :, h:].abs().sum() == 0 and view.tensor[i, :, :, w:].abs().sum() == 0
    # Not antialiased: a 2× bilinear down-sampling averages exactly each 2×2 block.
    assert torch.allclose(view.tensor[0, :, :100, :150], F.avg_pool2d(a[None], 2)[0], atol=1e-5)


@pytest.mark.detectron2
def test_lowres_view_leaves_inputs_unchanged():
    from dld_d2.modeling.dld.lowres_batch import lowres_view

    images, targets = _rect_image_and_target(203, 301, (61, 47, 183, 93), pad_to=(224, 320))
    _, poly_targets = _rect_image_and_target(203, 301, (61, 47, 183, 93), mask_kind="polygon")
    tensor_before = images.tensor.clone()
    sizes_before = list(images.image_sizes)
    targets_before = copy.deepcopy(targets + poly_targets)
    lowres_view(images, [101], 1600, targets)
    lowres_view(images, [150], 1600, poly_targets)
    assert torch.equal(images.tensor, tensor_before) and images.image_sizes == sizes_before
    for t, before in zip(targets + poly_targets, targets_before):
        assert t.image_size == before.image_size
        assert torch.equal(t.gt_boxes.tensor, before.gt_boxes.tensor)
        assert torch.equal(t.gt_texts, before.gt_texts)
    assert torch.equal(targets[0].gt_masks.tensor, targets_before[0].gt_masks.tensor)
    assert np.array_equal(poly_targets[0].gt_masks.polygons[0][0],
                          targets_before[1].gt_masks.polygons[0][0])


def test_selector_normalises_each_image_alike_in_training_and_at_test():
    # The selector runs one image at a time in training; a BatchNorm with running averages
    # would then decide differently at test than it learned to (see ResolutionSelector).
    torch.manual_seed(0)
    sel = ResolutionSelector(widths=(8, 8, 16, 16, 32))
    opt = torch.optim.SGD(sel.parameters(), lr=0.1)
    images = torch.randn(3, 3, 64, 96) * torch.tensor([0.5, 1.0, 3.0]).view(3, 1, 1, 1)
    for _ in range(3):
        loss = sel(images).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = sel(images).detach()
    sel.eval()
    with torch.no_grad():
        tested = sel(images)
        alone = torch.cat([sel(images[i : i + 1]) for i in range(3)])
    assert torch.allclose(trained, tested, atol=1e-6)
    # A batch is normalised image by image: no image's decision depends on the others.
    assert torch.allclose(tested, alone, atol=1e-6)
    assert not any(name.endswith("running_mean") for name, _ in sel.named_buffers())


def test_selector_with_running_statistics_as_the_reference():
    # SELECTOR_NORM "running": one image at a time in training updates running averages (BatchNorm
    # momentum 0.1), which test then uses; a checkpoint's averages are loaded, not dropped.
    torch.manual_seed(0)
    sel = ResolutionSelector(widths=(8, 8, 16, 16, 32), norm="running")
    images = torch.randn(3, 3, 64, 96) * 2.0 + 0.5
    trained = sel(images).detach()
    assert int(sel.bn1.num_batches_tracked) == 3  # one update per image
    assert torch.allclose(sel.bn1.running_mean, _ema_mean(sel, images), atol=1e-5)
    sel.eval()
    with torch.no_grad():
        tested = sel(images)
    assert not torch.allclose(trained, tested, atol=1e-3)
    state = sel.state_dict()
    assert {"bn1.running_mean", "bs4.bn3.running_var", "bs4.bn3.num_batches_tracked"} <= set(state)
    target = ResolutionSelector(widths=(8, 8, 16, 16, 32), norm="running").eval()
    assert target.load_state_dict(state, strict=True).missing_keys == []
    with torch.no_grad():
        assert torch.equal(target(images), tested)
    with pytest.raises(ValueError, match="norm must be one of"):
        ResolutionSelector(norm="batch")


def _ema_mean(sel, images):
    # BatchNorm's running mean after one image at a time from zeros, momentum 0.1.
    mean = torch.zeros(sel.bn1.num_features)
    for i in range(images.shape[0]):
        x = F.conv2d(images[i : i + 1], sel.conv1.weight, sel.conv1.bias, stride=2, padding=3)
        mean = 0.9 * mean + 0.1 * x.mean(dim=(0, 2, 3))
    return mean


def test_selector_loads_a_checkpoint_with_running_statistics(caplog):
    # DAVAR's (and older) selector checkpoints hold BN running averages: loaded, not reported as
    # unused keys, and the learned weights arrive.
    source = ResolutionSelector(widths=(8, 8, 16, 16, 32))
    state = dict(source.state_dict())
    for bn in ("bn1", "bs1.bn1", "bs4.bn3"):
        width = state[f"{bn}.weight"].numel()
        state.update({f"{bn}.running_mean": torch.zeros(width), f"{bn}.running_var": torch.ones(width),
                      f"{bn}.num_batches_tracked": torch.tensor(7)})
    target = ResolutionSelector(widths=(8, 8, 16, 16, 32))
    with caplog.at_level("INFO"):
        result = target.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert "9 BatchNorm running-statistics entries" in caplog.text
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in target.state_dict().items())
