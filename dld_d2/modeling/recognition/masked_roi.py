"""Masked RoI extraction from P2 (docs/method.md, "Masked RoI features"; DAVAR
`MaskedRoIExtractor`).

For every instance: box/4, grown by one feature cell, truncated and clamped; the crop of the
feature map times the crop of the instance's own mask (downscaled to the feature stride,
each cell reading its first pixel); transposed when taller than 1.5× its width; bilinearly
resized (align_corners=False, no antialias) to 8×32 (8×W with a wider RoI). Degenerate crops
give zeros.

The reference loops over instances with one `F.interpolate` each. Here the same numbers come
from one gather per image: a bilinear resize of an integer crop is, per output pixel, a
weighted sum of (at most) four source pixels, whose indices and weights follow PyTorch's
`upsample_bilinear2d` rules, and masking before resizing just multiplies each corner by the
mask value at that corner. There is no per-instance Python work, and the full-resolution masks
are only read at the sampled pixels (never resized as a whole).

Not the reference's mask resize by default: its nearest resize to the rounded size
(mmcv.imrescale) reads the same pixels where a side is a multiple of 4, but elsewhere drifts
against the P2 cells by up to half a cell; here each cell reads its own first pixel, aligned at
any size (docs/method.md, "Masked RoI features"). `mask_grid="reference"` reads the reference's
pixels instead, for models converted from it.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .weight_init import init_recognition_weights

#: Default output size (H, W) of a RoI feature (the paper's). The encoder needs H = 8; W may vary
#: (MODEL.TEXT_HEAD.ROI_WIDTH) and sets the sequence length W + 1.
ROI_SIZE = (8, 32)
#: P2 stride with respect to the network input.
FEATURE_STRIDE = 4
#: Which mask pixel each P2 cell reads: "aligned" (its own first pixel) or "reference" (the
#: reference code's OpenCV nearest resize to the rounded size).
MASK_GRIDS = ("aligned", "reference")


def _bilinear_source(length: torch.Tensor, out_size: int):
    """Source indices and weights of a 1-D bilinear resize (align_corners=False) per instance.

    length: (N,) input lengths (≥ 1 where it matters). Returns i0, i1 (N, out_size) long and
    l0, l1 (N, out_size) float32, following ATen's `area_pixel_compute_source_index`.
    """
    length_f = length.to(torch.float32).clamp(min=1.0)
    scale = (length_f / out_size)[:, None]
    dst = torch.arange(out_size, device=length.device, dtype=torch.float32)[None, :] + 0.5
    src = (scale * dst - 0.5).clamp(min=0.0)
    i0 = src.to(torch.long)  # src ≥ 0, so truncation = floor
    i0 = torch.minimum(i0, (length[:, None] - 1).clamp(min=0))
    i1 = torch.where(i0 < length[:, None] - 1, i0 + 1, i0)
    l1 = (src - i0.to(torch.float32)).clamp(0.0, 1.0)
    return i0, i1, 1.0 - l1, l1


def _cell_source(in_size: int, out_size: int, ratio: float, device, grid: str = "aligned") -> torch.Tensor:
    """Mask pixel read for each of `out_size` feature cells, clamped to the mask.

    "aligned": the first pixel of the cell, floor(i · ratio) with ratio = feature stride / mask
    stride. "reference": OpenCV's INTER_NEAREST resize to out_size, floor(i · (1 / (out_size /
    in_size))) in double precision as OpenCV computes it. The two read the same pixels when
    in_size is a multiple of the ratio; otherwise the reference grid drifts against the feature
    cells, by up to half a cell at the far edge (2 pixels of a 358-pixel side).
    """
    step = 1.0 / (out_size / in_size) if grid == "reference" else ratio
    idx = (torch.arange(out_size, dtype=torch.float64) * step).floor().to(torch.long)
    return idx.clamp(max=in_size - 1).to(device)


def masked_roi_features(
    feat: torch.Tensor,
    boxes: Sequence[torch.Tensor],
    masks: Optional[Sequence[Optional[torch.Tensor]]] = None,
    output_size=ROI_SIZE,
    stride: int = FEATURE_STRIDE,
    mask_stride: int = 1,
    mask_grid: str = "aligned",
) -> torch.Tensor:
    """Masked, resized RoI crops of `feat` (no learned layers; the geometry of §1.6(a) steps 2–6).

    Args:
        feat: (B, C, Hf, Wf) feature map at `stride` w.r.t. the network input.
        boxes: B tensors (n_i, 4), XYXY in network-input pixels.
        masks: None (no masking) or B tensors (n_i, Hm, Wm) (bool/uint8/float, values used as
            multipliers) at 1/`mask_stride` of the network-input resolution, e.g. Detectron2
            BitMasks.tensor or predicted masks pasted at the input size (mask_stride=1). They are
            downscaled to round(Hm·mask_stride/stride) × round(Wm·mask_stride/stride) cells,
            each reading the mask at its first pixel, so that they stay aligned with `feat` at
            any input size (the spec's nearest resize drifts where a side is not a multiple of
            stride/mask_stride); an entry may be None (that image is not masked).
        output_size: (H, W) of each crop after the resize.
        mask_grid: "aligned" (above) or "reference": the mask pixels the reference code's
            nearest resize reads (`_cell_source`), for models converted from it.
    Returns:
        (N, C, H, W) with N = Σ n_i, instances in image order; zeros for degenerate crops.
    """
    B, C, Hf, Wf = feat.shape
    if mask_grid not in MASK_GRIDS:
        raise ValueError(f"mask_grid must be one of {MASK_GRIDS}, got {mask_grid!r}")
    if len(boxes) != B:
        raise ValueError(f"got boxes for {len(boxes)} images but features for {B}")
    if masks is not None and len(masks) != B:
        raise ValueError(f"got masks for {len(masks)} images but features for {B}")
    oh, ow = output_size
    device = feat.device
    counts = [int(b.shape[0]) for b in boxes]
    N = sum(counts)
    if N == 0:
        return feat.new_zeros((0, C, oh, ow))

    all_boxes = torch.cat([b.reshape(-1, 4) for b in boxes]).to(device=device, dtype=torch.float32)

    # Per-instance limits: feature size, and (as in the reference) the downscaled mask size.
    lim_w = torch.full((N,), Wf, dtype=torch.long, device=device)
    lim_h = torch.full((N,), Hf, dtype=torch.long, device=device)
    mask_geom = []  # per image: (row map, col map) from downscaled to given mask pixels, or None
    ratio = stride / mask_stride  # mask pixels per feature cell
    if masks is not None:
        start = 0
        for b, n in enumerate(counts):
            m = masks[b]
            if m is None or n == 0:
                mask_geom.append(None)
            else:
                if m.dim() != 3 or m.shape[0] != n:
                    raise ValueError(f"masks[{b}] has shape {tuple(m.shape)}; expected ({n}, H, W)")
                hm, wm = int(m.shape[1]), int(m.shape[2])
                # mmcv.imrescale's rounding: int(x * scale + 0.5).
                hq = int(hm * mask_stride / stride + 0.5)
                wq = int(wm * mask_stride / stride + 0.5)
                lim_h[start:start + n] = min(Hf, hq)
                lim_w[start:start + n] = min(Wf, wq)
                mask_geom.append((_cell_source(hm, hq, ratio, m.device, mask_grid),
                                  _cell_source(wm, wq, ratio, m.device, mask_grid)))
            start += n

    # Box → feature cells: /stride, grow by one cell, truncate toward zero, clamp.
    grown = all_boxes / stride + torch.tensor([-1.0, -1.0, 1.0, 1.0], device=device)
    cells = grown.to(torch.long)  # truncation, like Tensor.long() in the reference
    x1 = cells[:, 0].clamp(0, Wf)
    y1 = cells[:, 1].clamp(0, Hf)
    x2 = torch.minimum(cells[:, 2].clamp(0, Wf), lim_w)
    y2 = torch.minimum(cells[:, 3].clamp(0, Hf), lim_h)
    h = (y2 - y1).clamp(min=0)
    w = (x2 - x1).clamp(min=0)
    valid = (h > 0) & (w > 0)
    # Vertical text: the crop is transposed (H and W swapped, no flip) before the resize.
    transposed = h.to(torch.float32) > 1.5 * w.to(torch.float32)

    # Output rows run along y (or x when transposed), output columns along x (or y).
    len_r = torch.where(transposed, w, h)
    len_c = torch.where(transposed, h, w)
    r0, r1, wr0, wr1 = _bilinear_source(len_r, oh)  # (N, oh)
    c0, c1, wc0, wc1 = _bilinear_source(len_c, ow)  # (N, ow)

    # The four bilinear corners of every output pixel, stacked on dim 1: (N, 4, oh, ow).
    t = transposed[:, None, None]
    ys, xs, ws = [], [], []
    for ri, wr in ((r0, wr0), (r1, wr1)):
        for ci, wc in ((c0, wc0), (c1, wc1)):
            rr = ri[:, :, None].expand(N, oh, ow)
            cc = ci[:, None, :].expand(N, oh, ow)
            ys.append(y1[:, None, None] + torch.where(t, cc, rr))
            xs.append(x1[:, None, None] + torch.where(t, rr, cc))
            ws.append(wr[:, :, None] * wc[:, None, :])
    invalid = ~valid[:, None, None, None]
    # Degenerate crops read pixel (0, 0) of their image with weight 0.
    ys = torch.stack(ys, 1).masked_fill(invalid, 0)
    xs = torch.stack(xs, 1).masked_fill(invalid, 0)
    weight = torch.stack(ws, 1).masked_fill(invalid, 0.0)
    if masks is not None:
        weight = weight * _gather_mask_values(masks, mask_geom, counts, ys, xs, device)
    weight = weight.to(feat.dtype)
    # Per image, one gather of all corners of all its instances from the channel-first map
    # (no transposed copy of the whole map; the backward is a single index_add per image).
    pix = ys * Wf + xs
    # unbind (not feat[b]): its backward stacks the per-image gradients once instead of
    # materialising a zero gradient of the whole batch per image.
    per_image = feat.reshape(B, C, Hf * Wf).unbind(0)
    outs = []
    start = 0
    for b, n in enumerate(counts):
        if n:
            cols = per_image[b].index_select(1, pix[start:start + n].reshape(-1))
            cols = cols.view(C, n, 4, oh, ow) * weight[start:start + n]
            outs.append(cols.sum(2).transpose(0, 1))  # (n, C, oh, ow)
        start += n
    return torch.cat(outs).contiguous()


def _gather_mask_values(masks, mask_geom, counts, ys, xs, device) -> torch.Tensor:
    """Mask value of each instance at downscaled-mask pixels (ys, xs): (N, ...) float32."""
    vals = torch.ones(ys.shape, dtype=torch.float32, device=device)
    start = 0
    for m, geom, n in zip(masks, mask_geom, counts):
        if geom is not None:
            rows, cols = geom
            yy = rows[ys[start:start + n].to(m.device)]
            xx = cols[xs[start:start + n].to(m.device)]
            inst = torch.arange(n, device=m.device).view((n,) + (1,) * (ys.dim() - 1))
            # Index only the sampled pixels: the full-resolution masks are never resized or copied.
            vals[start:start + n] = m[inst, yy, xx].to(device=device, dtype=torch.float32)
        start += n
    return vals


class MaskedRoIExtractor(nn.Module):
    """3×3 conv + BN + ReLU on P2, then `masked_roi_features` → N×C×8×W ("RoI feature"; W = 32
    in the paper)."""

    def __init__(self, in_channels: int = 256, out_channels: int = 256, roi_width: int = ROI_SIZE[1],
                 supersample: int = 1, mask_grid: str = "aligned"):
        super().__init__()
        if supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        if mask_grid not in MASK_GRIDS:
            raise ValueError(f"mask_grid must be one of {MASK_GRIDS}, got {mask_grid!r}")
        self.mask_grid = mask_grid
        self.output_size = (ROI_SIZE[0], roi_width)
        # s > 1: every crop is resized to s× the output size, then averaged over s×s cells, so a
        # crop shrunk more than 2× reads all its cells (bilinear alone reads two per output);
        # crops that are enlarged come out slightly smoother.
        self.supersample = supersample
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out_channels
        init_recognition_weights(self)

    def forward(
        self,
        p2: torch.Tensor,
        boxes: List[torch.Tensor],
        masks: Optional[List[Optional[torch.Tensor]]] = None,
        mask_stride: int = 1,
    ) -> torch.Tensor:
        """p2: (B, C_in, H/4, W/4); boxes/masks per image as in `masked_roi_features`."""
        if sum(int(b.shape[0]) for b in boxes) == 0:
            # Nothing to crop: skip the full-map conv (callers keep parameters in the graph).
            return p2.new_zeros((0, self.out_channels) + self.output_size)
        feat = self.relu(self.bn(self.conv(p2)))
        s = self.supersample
        size = (self.output_size[0] * s, self.output_size[1] * s)
        out = masked_roi_features(feat, boxes, masks, size, FEATURE_STRIDE, mask_stride, self.mask_grid)
        return out if s == 1 else F.avg_pool2d(out, s)
