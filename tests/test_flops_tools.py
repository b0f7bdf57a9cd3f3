"""dld_d2.evaluation.flops, tools/get_flops.py and tools/benchmark.py on tiny models and images."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
QUICK = "configs/quick_schedules/teacher_instant_test.yaml"
TINY_TEST = "dld_synthetic_tiny_test"

sys.path.insert(0, str(REPO / "tools"))
import get_flops  # noqa: E402

d2 = pytest.mark.detectron2


def _fvcore_count(module, *inputs):
    from fvcore.nn import FlopCountAnalysis

    from dld_d2.evaluation.flops import lstm_flop_jit

    fca = FlopCountAnalysis(module, inputs).set_op_handle("aten::lstm", lstm_flop_jit)
    fca.unsupported_ops_warnings(False)
    return fca.total()


class _CellLoop(nn.Module):
    """A one-layer LSTM written as an LSTMCell loop: fvcore counts its gate linears."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)

    def forward(self, x):  # (N, T, I)
        state = None
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
        return state[0]


class _Packed(nn.Module):
    def __init__(self, lstm, lengths):
        super().__init__()
        self.lstm, self.lengths = lstm, lengths

    def forward(self, x):
        packed = nn.utils.rnn.pack_padded_sequence(x, self.lengths, batch_first=True)
        return self.lstm(packed)[0].data


@pytest.mark.filterwarnings("ignore::UserWarning")  # oneDNN without projections; traced lengths
def test_lstm_handle_counts_gate_and_projection_products():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16)  # N=3, T=5
    # One layer, one direction: the same count as fvcore gives the LSTMCell loop (4H·(I+H)/step).
    assert _fvcore_count(nn.LSTM(16, 8, batch_first=True), x) == 15 * 4 * 8 * (16 + 8)
    assert _fvcore_count(_CellLoop(16, 8), x) == 15 * 4 * 8 * (16 + 8)
    # Two bidirectional layers with a projection to 4: per direction, layer 0 has
    # W_ih 32×16, W_hh 32×4, W_hr 4×8; layer 1 reads the 2×4 outputs: W_ih 32×8.
    lstm = nn.LSTM(16, 8, num_layers=2, bidirectional=True, batch_first=True, proj_size=4)
    per_step = 2 * (32 * 16 + 32 * 4 + 4 * 8) + 2 * (32 * 8 + 32 * 4 + 4 * 8)
    assert _fvcore_count(lstm, x) == 15 * per_step
    # Packed sequences of lengths 5, 3, 2: 10 steps in all.
    assert _fvcore_count(_Packed(lstm, [5, 3, 2]), x) == 10 * per_step


class _Layers(nn.Module):
    """One of each layer kind that fvcore counts, as the spotters use them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, groups=2)
        self.bn = nn.BatchNorm2d(8)
        self.gn = nn.GroupNorm(2, 8)
        self.deconv = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 6)
        self.pool = nn.AdaptiveAvgPool2d(3)

    def forward(self, x):
        x = self.deconv(self.gn(self.bn(self.conv(x))))
        x = F.interpolate(x, scale_factor=2, mode="nearest") + F.interpolate(x, scale_factor=2, mode="bilinear")
        seq = self.fc(self.ln(x.flatten(2).transpose(1, 2)))  # a 3-D linear: runs as a matrix product
        return self.pool(x), seq @ seq.transpose(1, 2), torch.matmul(seq[0], seq[0].T)


def _eager_count(module, *inputs):
    from dld_d2.evaluation.flops import EagerFlopCounter

    with torch.no_grad(), EagerFlopCounter() as counter:
        module(*inputs)
    return counter.total


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_eager_count_equals_fvcores_trace():
    # The count taken while a model runs maps the ops that really execute (addmm for a linear,
    # oneDNN's kernel for an LSTM, ...) to fvcore's handles: the same number, no trace.
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16)
    layers = _Layers().eval()
    lstm = nn.LSTM(16, 8, num_layers=2, bidirectional=True, batch_first=True)
    for module, inputs in (
        (layers, (torch.randn(2, 4, 6, 10),)),
        (layers.train(), (torch.randn(2, 4, 6, 10),)),  # batch norm counts otherwise in training
        (nn.LSTM(16, 8, batch_first=True), (x,)),
        (lstm, (x,)),
        (nn.LSTM(16, 8, num_layers=2, bidirectional=True, batch_first=True, proj_size=4), (x,)),
        (_Packed(lstm, [5, 3, 2]), (x,)),
        (_CellLoop(16, 8), (x,)),
    ):
        assert _eager_count(module, *inputs) == _fvcore_count(module, *inputs) > 0, module
    assert _eager_count(nn.LSTM(16, 8, batch_first=True), x) == 15 * 4 * 8 * (16 + 8)


def test_summary_by_chosen_scale():
    records = [
        {"gflops": 2.0, "input_short_side": 240, "detections": 3, "scale": 0.5},
        {"gflops": 6.0, "input_short_side": 480, "detections": 5, "scale": 1.0},
        {"gflops": 3.0, "input_short_side": 240, "detections": 1, "scale": 0.5},
    ]
    s = get_flops.summarize(records, {"": 11.0, "selector": 0.3, "student.backbone": 9.0})
    assert s["num_images"] == 3 and s["gflops_mean"] == pytest.approx(11 / 3)
    assert s["paper_g_mean"] == pytest.approx(11 / 3 * 1e9 / 2**30)
    assert s["input_short_side_mean"] == 320 and s["scale_mean"] == pytest.approx(2 / 3)
    assert s["gflops_by_module_mean"] == pytest.approx({"selector": 0.1, "student.backbone": 3.0})
    assert s["by_scale"] == [
        {"scale": 0.5, "count": 2, "gflops_mean": 2.5, "input_short_side_mean": 240.0},
        {"scale": 1.0, "count": 1, "gflops_mean": 6.0, "input_short_side_mean": 480.0},
    ]
    md = get_flops.markdown({"summary": s, "config_file": "x.yaml", "dataset": "d", "weights": "",
                             "uncounted_ops": {}})
    assert "| 0.5 | 2 | 2.50 | 240.0 |" in md
    no_scale = [{k: v for k, v in r.items() if k != "scale"} for r in records]
    assert "by_scale" not in get_flops.summarize(no_scale, {})


def _cfg(**overrides):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / QUICK))
    cfg.merge_from_list([str(x) for kv in overrides.items() for x in kv])
    return cfg


def _spotter(score_thresh):
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    return build_model(_cfg(**{"MODEL.ROI_HEADS.SCORE_THRESH_TEST": score_thresh}))


def _image(h, w, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {"image": torch.randint(0, 255, (3, h, w), dtype=torch.uint8, generator=gen)}


@d2
@pytest.mark.parametrize("score_thresh", [0.0, 1.0], ids=["detections", "no-detections"])
def test_gflops_count_the_real_inference_path(score_thresh):
    from dld_d2.evaluation.flops import count_inference, inference_gflops

    model = _spotter(score_thresh)
    model.roi_heads.eval()  # a submodule kept in eval mode in a training model (a frozen teacher)
    small, large = count_inference(model, [_image(256, 320), _image(512, 640)])
    # Counted in eval mode, then each module's mode is restored.
    assert model.training and model.backbone.training and not model.roi_heads.training
    for c in (small, large):
        assert c.gflops > 0 and c.by_module[""] == pytest.approx(c.gflops)
        assert tuple(int(v) for v in c.output["input_size"]) in ((256, 320), (512, 640))
        assert "aten::lstm" not in c.uncounted_ops
        rec = c.by_module["roi_heads.rec_branch"]
        if score_thresh == 0.0:  # an untrained model: everything is a detection
            assert len(c.output["instances"]) > 0
            # The recognition branch (LSTMs included) is counted on the real detections.
            assert rec > 0.1 and c.by_module["roi_heads.rec_branch.sequence"] > 0.03
        else:
            assert len(c.output["instances"]) == 0 and rec == 0
    # The backbone scales with the pixels (×4); the RoI heads (up to 100 detections each) do not.
    assert 1.5 <= large.gflops / small.gflops < 4
    assert large.by_module["backbone"] / small.by_module["backbone"] == pytest.approx(4, rel=0.02)
    assert inference_gflops(model, [_image(256, 320)]) == [small.gflops]


@d2
def test_gflops_with_detections_exceed_those_without():
    from dld_d2.evaluation.flops import inference_gflops

    (with_dets,) = inference_gflops(_spotter(0.0), [_image(256, 320)])
    (without,) = inference_gflops(_spotter(1.0), [_image(256, 320)])
    assert with_dets > without + 0.2


@d2
def test_flop_counting_model_adds_gflops():
    from dld_d2.evaluation.flops import FlopCountingModel, inference_gflops

    model = _spotter(0.0)
    wrapped = FlopCountingModel(model).eval()
    inputs = [_image(256, 320, seed=1), _image(192, 256, seed=2)]
    with torch.no_grad():
        outputs = wrapped(inputs)
        plain = model(inputs)
    assert [o["gflops"] for o in outputs] == inference_gflops(model, inputs)
    assert [len(o["instances"]) for o in outputs] == [len(o["instances"]) for o in plain]
    assert outputs[0]["input_size"] == (256, 320)
    with pytest.raises(RuntimeError, match="eval"):
        wrapped.train()(inputs)


@d2
@pytest.mark.parametrize("score_thresh", [0.0, 1.0], ids=["detections", "no-detections"])
def test_eager_count_of_the_spotter_equals_the_trace(score_thresh):
    from dld_d2.evaluation.flops import inference_gflops

    model = _spotter(score_thresh).eval()
    for image in (_image(256, 320), _image(192, 416, seed=3)):
        assert _eager_count(model, [image]) / 1e9 == inference_gflops(model, [image])[0]


class _Samples(nn.Module):
    """A model with an op fvcore counts but the eager counter does not map (grid_sample)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, batched_inputs):
        outs = []
        for inp in batched_inputs:
            grid = torch.tanh(self.fc(inp["image"]))[None, None]  # (1, 1, W, 2)
            outs.append({"sampled": F.grid_sample(inp["image"][None, None], grid, align_corners=False)})
        return outs


@d2
def test_flop_counting_model_checks_its_count_against_fvcore(caplog, monkeypatch):
    from dld_d2.evaluation import flops

    traced = []
    trace = flops.inference_gflops
    monkeypatch.setattr(flops, "inference_gflops", lambda m, b: traced.append(len(b)) or trace(m, b))
    # Counts that agree: the first batch is traced to check, then every check_every-th.
    wrapped = flops.FlopCountingModel(_spotter(1.0), check_every=3).eval()
    with torch.no_grad():
        counts = [wrapped([_image(256, 320, seed=i)])[0]["gflops"] for i in range(4)]
    assert traced == [1, 1] and wrapped.eager_counts_match
    assert counts == [trace(wrapped.model, [_image(256, 320, seed=i)])[0] for i in range(4)]
    # Counts that differ: fvcore's is taken, it says so, and traces every batch from then on.
    traced.clear()
    wrapped = flops.FlopCountingModel(_Samples(), check_every=3).eval()
    batch = [{"image": torch.randn(5, 4)}]
    with torch.no_grad():
        outs = [wrapped(batch)[0]["gflops"] for _ in range(2)]
    assert not wrapped.eager_counts_match and traced == [1, 1]
    # fvcore: the linear (5 × 4 × 2) and grid_sample (4 per output value, 5 of them).
    assert outs == [trace(wrapped.model, batch)[0]] * 2 and round(outs[0] * 1e9) == 5 * 4 * 2 + 4 * 5
    assert "tracing every batch from now on" in caplog.text


class _Decides(nn.Module):
    """A selector whose logits only reach a Python decision, then a body."""

    def __init__(self):
        super().__init__()
        self.selector = nn.Linear(10, 3)
        self.body = nn.Linear(10, 10)

    def forward(self, batched_inputs):
        outs = []
        for inp in batched_inputs:
            x = inp["image"]
            scale = (0.5, 1.0, 2.0)[int(self.selector(x).sum(0).argmax())]
            outs.append({"features": self.body(x), "scale": scale})
        return outs


@d2
def test_work_behind_python_decisions_counts():
    from dld_d2.evaluation.flops import count_inference

    # The tracer alone would drop the selector (its output is not in the graph's outputs).
    (c,) = count_inference(_Decides(), [{"image": torch.randn(4, 10)}])
    assert round(c.by_module["selector"] * 1e9) == 4 * 10 * 3
    assert round(c.gflops * 1e9) == 4 * 10 * 3 + 4 * 10 * 10
    assert c.output["scale"] in (0.5, 1.0, 2.0) and c.output["features"].shape == (4, 10)


class _ScaledSpotter(nn.Module):
    """Stands in for a DLD model: spots at a fixed factor and reports it as "scale"."""

    def __init__(self, spotter, scale):
        super().__init__()
        self.spotter, self.scale = spotter, scale

    def forward(self, batched_inputs):
        outs = []
        for inp in batched_inputs:
            img = F.interpolate(inp["image"][None].float(), scale_factor=self.scale, mode="bilinear")
            h, w = inp["image"].shape[-2:]
            (out,) = self.spotter([{"image": img[0], "height": h, "width": w}])
            outs.append(dict(out, scale=self.scale))
        return outs


@d2
def test_measure_reports_the_chosen_scale():
    model = _spotter(1.0)
    batches = [[_image(256, 320, seed=1)], [_image(256, 320, seed=2)], [_image(256, 320, seed=3)]]
    full, _, _ = get_flops.measure(model, batches, 2)
    half, by_module, _ = get_flops.measure(_ScaledSpotter(model, 0.5), batches, 2)
    assert [r["scale"] for r in half] == [0.5, 0.5] and "scale" not in full[0]
    assert [r["input_short_side"] for r in half] == [128, 128]
    assert 2.5 <= full[0]["gflops"] / half[0]["gflops"] <= 5
    s = get_flops.summarize(half, by_module)
    assert s["by_scale"][0]["count"] == 2 and "spotter.backbone" in s["gflops_by_module_mean"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return dict(os.environ, DLD_D2_CACHE=str(cache), OMP_NUM_THREADS="1")


def _run(args, env):
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@d2
def test_get_flops_tool(env, tmp_path, monkeypatch):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import build_detection_test_loader

    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.evaluation.flops import inference_gflops

    model = _spotter(0.0)
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model")
    # --dataset wins over the config's DATASETS.TEST.
    out = _run(["tools/get_flops.py", "--config-file", QUICK, "--num-images", "2",
                "--dataset", TINY_TEST,
                "--output", str(tmp_path / "flops.json"), "--md", str(tmp_path / "flops.md"),
                "MODEL.WEIGHTS", str(tmp_path / "model.pth"), "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
                "DATASETS.TEST", '("dld_synthetic_tiny_train",)'],
               env)
    report = json.loads((tmp_path / "flops.json").read_text())
    s = report["summary"]
    assert report["dataset"] == TINY_TEST and report["weights"].endswith("model.pth")
    assert s["num_images"] == 2 and len(report["images"]) == 2
    assert s["input_short_side_mean"] == 256 and s["detections_mean"] > 0
    assert s["gflops_min"] <= s["gflops_mean"] <= s["gflops_max"] and s["gflops_std"] >= 0
    assert "by_scale" not in s and "roi_heads.rec_branch" in s["gflops_by_module_mean"]
    assert (tmp_path / "flops.md").read_text() in out
    # The same numbers as counting in-process on the same images with the same weights.
    monkeypatch.setenv("DLD_D2_CACHE", env["DLD_D2_CACHE"])
    cfg = _cfg(**{"MODEL.ROI_HEADS.SCORE_THRESH_TEST": 0.0})
    loader = build_detection_test_loader(cfg, TINY_TEST, mapper=TextSpottingDatasetMapper(cfg, False))
    inputs = [batch[0] for batch, _ in zip(loader, range(2))]
    expected = inference_gflops(model, inputs)
    assert [r["gflops"] for r in report["images"]] == pytest.approx(expected, rel=1e-6)


@d2
def test_benchmark_tool(env, tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer

    DetectionCheckpointer(_spotter(0.0), save_dir=str(tmp_path)).save("model")
    weights = str(tmp_path / "model.pth")  # the tools refuse to time a model without weights
    small = tmp_path / "small.yaml"
    small.write_text(f'_BASE_: "{REPO / QUICK}"\nINPUT:\n  MIN_SIZE_TEST: 128\n  MAX_SIZE_TEST: 176\n')
    out = _run(["tools/benchmark.py", "--model", f"quick={QUICK}", "--model", f"small={small}",
                "--weights", f"quick={weights}", "--weights", f"small={weights}",
                "--num-images", "2", "--warmup", "1", "--threads", "1",
                "--output", str(tmp_path / "speed.json"), "--md", str(tmp_path / "speed.md")], env)
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["dataset"] == TINY_TEST and report["num_images"] == 2
    assert report["environment"]["threads"] == 1 and report["environment"]["device"] == "cpu"
    quick, low = report["models"]
    assert (quick["name"], low["name"]) == ("quick", "small")
    assert (quick["input_short_side_mean"], low["input_short_side_mean"]) == (256, 128)
    for m in (quick, low):
        assert len(m["latency_ms"]) == 2 and m["latency_ms_mean"] > 0
        assert m["images_per_s"] == pytest.approx(1e3 / m["latency_ms_mean"])
    assert quick["latency_ratio"] == 1.0
    assert low["latency_ratio"] == pytest.approx(low["latency_ms_mean"] / quick["latency_ms_mean"])
    assert (tmp_path / "speed.md").read_text() in out


def test_benchmark_rejects_unknown_weights():
    proc = subprocess.run([sys.executable, "tools/benchmark.py", "--model", f"a={QUICK}",
                           "--weights", "b=x.pth"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown model(s) ['b']" in proc.stderr


@d2
def test_benchmark_names_missing_weights(tmp_path):
    proc = subprocess.run([sys.executable, "tools/benchmark.py", "--model", f"a={QUICK}",
                           "--weights", f"a={tmp_path / 'missing.pth'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert (f"model 'a': weights {tmp_path / 'missing.pth'} not found (MODEL.WEIGHTS); "
            "--weights a=PATH gives this model other weights") in proc.stderr


@d2
def test_benchmark_names_an_unregistered_dataset(tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer

    DetectionCheckpointer(_spotter(0.0), save_dir=str(tmp_path)).save("model")
    proc = subprocess.run([sys.executable, "tools/benchmark.py", "--model", f"a={QUICK}",
                           "--weights", f"a={tmp_path / 'model.pth'}", "--dataset", "no_such_set"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    # A name close to none gets the registered text-spotting datasets.
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("dataset 'no_such_set' is not registered; the registered "
                           "text-spotting datasets are: cocotext_train, cocotext_val, ")
    assert "icdar2015_test" in last and "synthtext_train" in last and "totaltext_test" in last and "coco_2017_val" not in last


@d2
def test_get_flops_names_missing_weights(tmp_path):
    proc = subprocess.run([sys.executable, "tools/get_flops.py", "--config-file", QUICK,
                           "MODEL.WEIGHTS", str(tmp_path / "missing.pth")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f"{QUICK}: weights {tmp_path / 'missing.pth'} not found" in proc.stderr


@d2
def test_build_trained_model_raises_on_missing_weights(tmp_path):
    from dld_d2.checkpoint.trained_model import build_trained_model

    # An exception the caller can handle, not an exit from inside the library.
    with pytest.raises(FileNotFoundError, match="model 'a': weights .*missing.pth not found"):
        build_trained_model(QUICK, [], weights=str(tmp_path / "missing.pth"), name="a")


@d2
def test_flop_counting_benchmark_tool(env, tmp_path):
    # Both ways of counting on the same images: equal counts, and the time of each; the config's
    # weights are missing, and --random-weights says to time random ones instead.
    missing = ["MODEL.WEIGHTS", str(tmp_path / "missing.pth")]
    proc = subprocess.run([sys.executable, "tools/benchmark_flop_counting.py", "--config-file", QUICK,
                           *missing], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "missing.pth not found (MODEL.WEIGHTS); --random-weights" in proc.stderr
    out = _run(["tools/benchmark_flop_counting.py", "--config-file", QUICK, "--num-images", "2",
                "--random-weights", "--output", str(tmp_path / "counting.json"),
                "--md", str(tmp_path / "counting.md"), *missing], env)
    (model,) = json.loads((tmp_path / "counting.json").read_text())["models"]
    assert model["config_file"] == QUICK and model["dataset"] == TINY_TEST and model["num_images"] == 2
    assert model["weights"].startswith("random (seed 0)") and model["eager_matches_trace"]
    assert model["mean_gflops"] > 0 and model["mean_detections"] > 0
    assert 0 < model["eager_s_per_image"] < model["traced_s_per_image"]
    assert (tmp_path / "counting.md").read_text() in out
