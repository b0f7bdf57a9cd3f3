"""FLOPs of a model's real inference path, counted by fvcore (docs/evaluation.md,
"Efficiency: GFLOPs and latency").

Unit: **fvcore GFLOPs (= GMACs)**: fvcore counts one multiply-add as one flop; counts are divided
by 1e9. (The DLD paper's "G" divides the same count by 2**30, i.e. its numbers are 7 % smaller.)

Each image is traced on its own (batch 1) through the model's usual `forward` in eval mode, so
the count covers what inference really ran on that image: for `TextSpotter` the backbone, FPN,
RPN, box and mask heads on the actual proposals and the recognition branch on the actual
detections; for a DLD model the selector, the resize and the student at the chosen scale
(work whose results reach only Python values, such as the selector's logits behind the chosen
scale, is counted too: see `_KeepAlive`).

Counted: convolutions, linear layers and matrix products (including the LSTM and LSTMCell gates,
see `lstm_flop_jit`), normalisation, upsampling, grid sampling. Not counted (fvcore/Detectron2
convention, all small next to the convolutions): element-wise ops and activations, RoIAlign, NMS,
top-k, the masked RoI gather of the recognition branch, and Detectron2's mask pasting (a scripted
function, opaque to the trace). `FlopCount.uncounted_ops` lists what a trace left out.

Evaluation (`FlopCountingModel`) takes the same count without a trace, as the model runs
(`EagerFlopCounter`), and checks it against the trace now and then.

`input_short_side` is the short side of the network input that an inference ran at, which the
GFLOPs and latency reports give beside each count.
"""
import logging
import math
from typing import Dict, List, NamedTuple

import torch
import torch.nn as nn
from fvcore.nn.jit_handles import conv_flop_count, get_shape
from torch.utils._python_dispatch import TorchDispatchMode

logger = logging.getLogger(__name__)

__all__ = [
    "EagerFlopCounter", "FlopCount", "FlopCountingModel", "count_inference", "inference_gflops",
    "input_short_side", "lstm_flop_jit",
]


def lstm_flop_jit(inputs, outputs) -> int:
    """fvcore handle for `aten::lstm` (fvcore has none; nn.LSTM would count as zero).

    MACs = (time steps × batch) × Σ numel(W) over the 2-D weights of the parameter list, i.e.
    per layer and direction W_ih (4H × input), W_hh (4H × H_out) and, with `proj_size`, W_hr
    (P × H): the gate and projection matrix products, one multiply-add per weight per step. This
    is the convention of fvcore's `linear` handle and what the tracer yields for `nn.LSTMCell`
    (decomposed into linears): bias adds and the gates' element-wise ops are not counted.
    Handles both overloads (padded input, and packed data + batch sizes).
    """
    # Padded input (T, N, I) / (N, T, I) / (T, I), or packed data (ΣT, I): all rows are steps.
    steps = math.prod(get_shape(inputs[0])[:-1])
    # The weights are the last List[Tensor] argument (the hidden state (h0, c0) is the first).
    params = [v for v in inputs if isinstance(v.type(), torch._C.ListType)][-1]
    shapes = [get_shape(p) for p in params.node().inputs()]
    return steps * sum(math.prod(s) for s in shapes if len(s) == 2)


class FlopCount(NamedTuple):
    """The count of one image's inference.

    gflops: fvcore GFLOPs (= GMACs) of the whole forward.
    by_module: GFLOPs per submodule name ("" = the model, "backbone", "roi_heads.rec_branch").
    uncounted_ops: ops of the trace without a flop handle (beyond the element-wise ops that
        Detectron2 ignores on purpose), with their number of calls.
    output: the model's output dict for the image from the traced run, so its "scale" and
        "input_size" are those of this count (sizes may be tensors there, not tuples).
    """

    gflops: float
    by_module: Dict[str, float]
    uncounted_ops: Dict[str, int]
    output: Dict


def _unwrap(model: nn.Module) -> nn.Module:
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        return model.module
    return model


def _tensors(x):
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _tensors(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _tensors(v)


class _KeepAlive(nn.Module):
    """Runs `model` and also returns one element of every tensor output of its submodules.

    The tracer drops computations whose results reach only Python values (dead code for the
    graph), e.g. a DLD selector whose logits become a chosen scale through argmax: they ran, so
    they must count. One element per output is enough to keep them in the graph; it is copied
    (`cat`, an op fvcore ignores, like `reshape` and the slice) so that the full outputs are
    still freed as usual. `outputs` holds the model's own outputs of the last call.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.outputs = None

    def forward(self, batched_inputs):
        kept = []

        def keep(module, args, out):
            kept.extend(torch.cat([t.reshape(-1)[:1]]) for t in _tensors(out) if t.numel())

        hooks = [m.register_forward_hook(keep) for m in self.model.modules()]
        try:
            self.outputs = self.model(batched_inputs)
        finally:
            for h in hooks:
                h.remove()
        return self.outputs, kept


def count_inference(model: nn.Module, batched_inputs: List[Dict]) -> List[FlopCount]:
    """Trace the model's inference on each image of `batched_inputs` alone; one `FlopCount` each.

    The model runs in eval mode under no_grad; the train/eval mode of each of its submodules is
    restored afterwards (a frozen DLD teacher stays in eval mode in a training model).
    """
    # Imported here: the LSTM handle above works without detectron2.
    from detectron2.utils.analysis import FlopCountAnalysis

    model = _unwrap(model)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    traced = _KeepAlive(model)
    # Module names as fvcore sees them: Detectron2's TracingAdapter holds `traced` as "model".
    prefix = "model.model"
    counts = []
    try:
        for inp in batched_inputs:
            with torch.no_grad():
                fca = FlopCountAnalysis(traced, [inp]).set_op_handle("aten::lstm", lstm_flop_jit)
                fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                # Tracer warnings (Python values, data-dependent shapes) are expected here.
                fca.tracer_warnings("none")
                total = fca.total()
                by_module = {
                    name[len(prefix) + 1:]: v / 1e9
                    for name, v in fca.by_module().items()
                    if name == prefix or name.startswith(prefix + ".")
                }
                uncounted = dict(fca.unsupported_ops())
            counts.append(FlopCount(total / 1e9, by_module, uncounted, traced.outputs[0]))
    finally:
        for m, training in modes:
            m.training = training
    return counts


def inference_gflops(model: nn.Module, batched_inputs: List[Dict]) -> List[float]:
    """fvcore GFLOPs (= GMACs) of the model's real inference on each image (batch 1, eval mode).

    See the module docstring for what is counted.
    """
    return [c.gflops for c in count_inference(model, batched_inputs)]


def input_short_side(inp: Dict, out: Dict) -> int:
    """Short side of what the network saw: a DLD model's `input_size` (its student's view),
    else the mapped image. Sizes from a traced run are tensors, from an eager one ints."""
    size = out.get("input_size", inp["image"].shape[-2:])
    return int(min(int(v) for v in size))


def _numel(t) -> int:
    return math.prod(t.shape)


def _rnn_steps_times_weights(x, weights) -> int:
    # As `lstm_flop_jit`: (time steps × batch) × the 2-D weights of the layer(s) run.
    return math.prod(x.shape[:-1]) * sum(_numel(w) for w in weights if w is not None and w.dim() == 2)


def _batch_norm(x, weight, training) -> int:
    # fvcore's batchnorm_flop_jit: 1 (2 with affine) per element in eval mode, its norm count in training.
    if training:
        return _numel(x) * (5 if weight is not None else 4)
    return _numel(x) * (2 if weight is not None else 1)


def _norm(x, weight) -> int:
    # fvcore's norm_flop_counter: "5 is just a rough estimate".
    return _numel(x) * (5 if weight is not None else 4)


_aten = torch.ops.aten
#: The eager ops behind the ops fvcore counts, with fvcore's count of each (args, kwargs, output).
_EAGER_HANDLES = {
    _aten.convolution.default: lambda a, k, out: conv_flop_count(
        list(a[0].shape), list(a[1].shape), list(out.shape), a[6]),
    # aten::linear and aten::matmul run as these (fvcore: the same multiply-adds).
    _aten.mm.default: lambda a, k, out: a[0].shape[0] * a[0].shape[1] * a[1].shape[1],
    _aten.addmm.default: lambda a, k, out: a[1].shape[0] * a[1].shape[1] * a[2].shape[1],
    _aten.bmm.default: lambda a, k, out: _numel(a[0]) * a[1].shape[-1],
    _aten.native_batch_norm.default: lambda a, k, out: _batch_norm(a[0], a[1], a[5]),
    _aten._native_batch_norm_legit.default: lambda a, k, out: _batch_norm(a[0], a[1], a[5]),
    _aten._native_batch_norm_legit_no_training.default: lambda a, k, out: _batch_norm(a[0], a[1], False),
    _aten.cudnn_batch_norm.default: lambda a, k, out: _batch_norm(a[0], a[1], a[5]),
    _aten.native_group_norm.default: lambda a, k, out: _norm(a[0], a[1]),
    _aten.native_layer_norm.default: lambda a, k, out: _norm(a[0], a[2]),
    _aten.upsample_nearest2d.default: lambda a, k, out: _numel(out),
    _aten.upsample_bilinear2d.default: lambda a, k, out: 4 * _numel(out),
    _aten._adaptive_avg_pool2d.default: lambda a, k, out: _numel(a[0]),
    # nn.LSTM: one call per layer and direction on CPU (oneDNN), one for all of them with cuDNN.
    _aten.mkldnn_rnn_layer.default: lambda a, k, out: _rnn_steps_times_weights(a[0], a[1:3]),
    _aten._cudnn_rnn.default: lambda a, k, out: _rnn_steps_times_weights(a[0], a[1]),
}


class EagerFlopCounter(TorchDispatchMode):
    """Counts, while a model runs as usual, what `count_inference`'s fvcore trace counts.

    A context manager: `total` is the count (flops = multiply-adds) of the ops run inside it.
    It sees the ops as they execute, after composite ops are split: `_EAGER_HANDLES` maps them
    to fvcore's handles (`linear` runs as `addmm`/`mm`, `matmul` as `mm`/`bmm`, `batch_norm` as
    `native_batch_norm`, `nn.LSTM` as oneDNN's or cuDNN's kernel). No trace: the count costs
    almost nothing beside the run, where fvcore traces the model again.

    It cannot tell apart everything the trace does: a scripted function is opaque to the trace
    but runs in Python here (Detectron2's mask pasting, whose `grid_sample` is therefore not
    counted here either), and an `adaptive_avg_pool2d` to 1×1 runs as a `mean`, which fvcore
    does not count otherwise. `FlopCountingModel` therefore checks it against fvcore.
    """

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        handle = _EAGER_HANDLES.get(func)
        if handle is not None:
            self.total += int(handle(args, kwargs, out[0] if isinstance(out, (tuple, list)) else out))
        return out


class FlopCountingModel(nn.Module):
    """Wraps a model for evaluation: each output dict gains "gflops", the count of
    `inference_gflops` (fvcore's trace of that image alone).

    The count is taken by `EagerFlopCounter` while the model runs (a batch of one image: that
    very run; of several: the batch as usual for the outputs, then each image alone, as counted),
    which costs little, where tracing took ~4× the run itself. Every `check_every`-th batch,
    the first included, is also traced with fvcore: where the two counts differ (an op the
    eager counter cannot map, see its docstring), it says so and traces every batch from then on.
    Meant for evaluation runs that report mean GFLOPs per image, not for latency.
    """

    def __init__(self, model: nn.Module, check_every: int = 50):
        super().__init__()
        self.model = model
        self.check_every = check_every
        self.batches = 0
        self.eager_counts_match = True

    def forward(self, batched_inputs: List[Dict]) -> List[Dict]:
        if self.training:
            raise RuntimeError("FlopCountingModel counts inference: call .eval() first")
        check = self.batches % self.check_every == 0
        self.batches += 1
        if not self.eager_counts_match:
            outputs = self.model(batched_inputs)
            gflops = inference_gflops(self.model, batched_inputs)
        else:
            outputs, gflops = self._run_counted(batched_inputs)
            if check:
                traced = inference_gflops(self.model, batched_inputs)
                if traced != gflops:
                    logger.warning(
                        "GFLOPs counted as the model runs (%s) differ from fvcore's trace (%s): "
                        "tracing every batch from now on (slower)", gflops, traced)
                    self.eager_counts_match = False
                    gflops = traced
        for out, g in zip(outputs, gflops):
            out["gflops"] = g
        return outputs

    def _run_counted(self, batched_inputs):
        with EagerFlopCounter() as counter:
            outputs = self.model(batched_inputs)
        if len(batched_inputs) == 1:
            return outputs, [counter.total / 1e9]
        gflops = []
        for inp in batched_inputs:
            with EagerFlopCounter() as counter:
                self.model([inp])
            gflops.append(counter.total / 1e9)
        return outputs, gflops
