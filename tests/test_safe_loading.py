"""Config files and checkpoints from users are data: payloads never run, broken files say what
they are, checkpoints must fit the model, saves are atomic and a broken resume names a good one."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from script_loader import load_script

pytestmark = pytest.mark.detectron2

REPO = Path(__file__).resolve().parents[1]
QUICK = str(REPO / "configs" / "quick_schedules" / "teacher_instant_test.yaml")
QUICK_DLD = str(REPO / "configs" / "quick_schedules" / "dld_instant_test.yaml")


def _tool(name):
    return load_script(f"tools/{name}.py")


class _Payload:
    """Unpickling this runs `touch marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil_yaml(tmp_path):
    marker = tmp_path / "PWNED_BY_YAML"
    path = tmp_path / "evil.yaml"
    path.write_text(
        f"_BASE_: {QUICK}\nMODEL:\n  DEVICE: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    return path, marker


def _cfg(config=QUICK, *opts):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(config)
    cfg.merge_from_list(list(opts))
    return cfg


@pytest.fixture(scope="module")
def spotter_checkpoint(tmp_path_factory):
    """(path, state dict) of a TextSpotter checkpoint with random weights."""
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    torch.manual_seed(0)
    model = build_model(_cfg())
    folder = tmp_path_factory.mktemp("spotter")
    TextSpotterCheckpointer(model, save_dir=str(folder)).save("model_final")
    return folder / "model_final.pth", model.state_dict()


def _spotter():
    from detectron2.modeling import build_model

    torch.manual_seed(1)
    return build_model(_cfg())


def _dld_for_training(*opts):
    """A DLD model of QUICK_DLD + opts with its weights loaded as train_net.py starts training:
    MODEL.DLD.TEACHER_WEIGHTS into teacher and student, then MODEL.WEIGHTS."""
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    cfg = _cfg(QUICK_DLD, *opts)
    model = build_model(cfg)
    TextSpotterCheckpointer(model, teacher_weights=cfg.MODEL.DLD.TEACHER_WEIGHTS).resume_or_load(
        cfg.MODEL.WEIGHTS, resume=False
    )
    return model


# ------------------------------------------------------------------------------------ configs
def _load_with_get_cfg(path, tmp_path):
    _cfg(str(path))


def _load_with_train_net(path, tmp_path):
    proc = subprocess.run([sys.executable, "train_net.py", "--config-file", str(path),
                           "OUTPUT_DIR", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    raise RuntimeError(proc.stderr[-2000:])


def _load_with_demo(path, tmp_path):
    _tool("demo").main(["--config-file", str(path), "--input", str(REPO / "README.md"),
                        "--output", str(tmp_path / "out")])


def _load_with_visualize_data(path, tmp_path):
    _tool("visualize_data").main(["--source", "dataloader", "--config-file", str(path), "--output-dir", str(tmp_path / "o")])


def _load_with_synthetic_demo(path, tmp_path):
    _tool("synthetic_demo")._load_cfg(str(path), [])


def _load_with_trained_model(path, tmp_path):
    from dld_d2.checkpoint.trained_model import build_trained_model

    build_trained_model(str(path), [])


@pytest.mark.parametrize("load", [_load_with_get_cfg, _load_with_train_net, _load_with_demo,
                                  _load_with_visualize_data, _load_with_synthetic_demo,
                                  _load_with_trained_model], ids=lambda f: f.__name__[11:])
def test_yaml_payload_never_runs(load, evil_yaml, tmp_path):
    path, marker = evil_yaml
    with pytest.raises(Exception) as info:
        load(path, tmp_path)
    assert not marker.exists(), "the YAML payload ran"
    assert f"{path}, line 3" in str(info.value)
    assert "Python-object tags (!!python/...) are not allowed" in str(info.value)


def test_config_errors_name_the_file(tmp_path):
    from dld_d2.config.config_node import ConfigFileError

    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  DEVICE: [cpu\n")
    with pytest.raises(ConfigFileError, match=rf"{bad}, line \d: not valid YAML"):
        _cfg(str(bad))
    bad.write_text("MODEL:\n  NO_SUCH_KEY: 1\n")
    with pytest.raises(ConfigFileError, match=rf"{bad}: Non-existent config key: MODEL.NO_SUCH_KEY"):
        _cfg(str(bad))
    with pytest.raises(FileNotFoundError, match="config file not found: .*nope.yaml"):
        _cfg(str(tmp_path / "nope.yaml"))
    # Configs keep their type through clone(), so a later merge stays safe.
    assert type(_cfg().clone()).__name__ == "SafeCfgNode"


def test_override_errors_name_the_override():
    from dld_d2.config.config_node import ConfigOverrideError

    with pytest.raises(ConfigOverrideError, match="config override: Non-existent key: "
                       "MODEL.NO_SUCH_KEY; no config defines it"):
        _cfg(QUICK, "MODEL.NO_SUCH_KEY", "1")
    with pytest.raises(ConfigOverrideError, match="SOLVER.MAX_ITER"):  # an int key given a list
        _cfg(QUICK, "SOLVER.MAX_ITER", "[1, 2]")
    with pytest.raises(ConfigOverrideError, match="come in KEY VALUE pairs; SOLVER.MAX_ITER has no"):
        _cfg(QUICK, "SEED", "1", "SOLVER.MAX_ITER")
    # An option written after the overrides (argparse's REMAINDER swallows it) is named.
    with pytest.raises(ConfigOverrideError, match="--output follows the KEY VALUE config "
                       "overrides, which must come last: put it before them"):
        _cfg(QUICK, "SEED", "1", "--output", "out")
    cfg = _cfg(QUICK, "SEED", "3", "INPUT.MIN_SIZE_TEST", "-1")  # a negative value is a value
    assert (cfg.SEED, cfg.INPUT.MIN_SIZE_TEST) == (3, -1)


def test_train_net_names_an_option_after_the_overrides(tmp_path):
    proc = subprocess.run([sys.executable, "train_net.py", "--config-file", QUICK, "--eval-only",
                           "OUTPUT_DIR", str(tmp_path / "out"), "--resume"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "ConfigOverrideError: --resume follows the KEY VALUE config overrides" in proc.stderr


@pytest.mark.parametrize("config", ["ic13_s768", "ic15_s1280", "totaltext_s896"])
def test_eval_configs_need_the_weights_to_evaluate(config, tmp_path):
    # They inherit the teacher's training config, whose MODEL.WEIGHTS is the pretraining output:
    # an evaluation without MODEL.WEIGHTS must not silently score that model.
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(f"{REPO}/configs/eval/{config}.yaml")
    assert cfg.MODEL.WEIGHTS == ""
    if config != "ic15_s1280":
        return  # one end-to-end run is enough: the three configs share the refusal
    proc = subprocess.run([sys.executable, "train_net.py", "--config-file", f"configs/eval/{config}.yaml",
                           "--eval-only", "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "is empty: give the trained checkpoint to load" in proc.stderr


# -------------------------------------------------------------------------------- checkpoints
def _evil_pkl(tmp_path):
    marker = tmp_path / "PWNED_BY_PICKLE"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"model": {"backbone.x": _Payload(marker)}, "__author__": "x"}, f, protocol=2)
    return path, marker


def _load_pkl_as_weights(path):
    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    TextSpotterCheckpointer(_spotter()).load(str(path))


def _load_pkl_as_teacher(path):
    _dld_for_training("MODEL.DLD.TEACHER_WEIGHTS", str(path))


def _load_pkl_for_measurement(path):
    from dld_d2.checkpoint.trained_model import build_trained_model

    build_trained_model(QUICK, [], weights=str(path))


def _load_pkl_in_demo(path):
    image = Path(path).parent / "scene.png"
    from PIL import Image

    Image.new("RGB", (64, 48)).save(image)
    _tool("demo").main(["--config-file", QUICK, "--input", str(image), "--output",
                        str(Path(path).parent / "out"), "MODEL.WEIGHTS", str(path)])


def _load_pkl_in_trainer(path):
    sys.path.insert(0, str(REPO))
    try:
        from train_net import Trainer
    finally:
        sys.path.remove(str(REPO))
    cfg = _cfg(QUICK, "MODEL.WEIGHTS", str(path), "OUTPUT_DIR", str(Path(path).parent / "t"))
    Trainer(cfg).resume_or_load(resume=False)


@pytest.mark.parametrize("load", [_load_pkl_as_weights, _load_pkl_as_teacher,
                                  _load_pkl_for_measurement, _load_pkl_in_demo,
                                  _load_pkl_in_trainer],
                         ids=lambda f: f.__name__[5:])
def test_pickle_payload_never_runs(load, tmp_path, monkeypatch):
    monkeypatch.setenv("DLD_D2_CACHE", str(tmp_path / "cache"))
    path, marker = _evil_pkl(tmp_path)
    from dld_d2.checkpoint.checkpointer import CheckpointError

    with pytest.raises(CheckpointError, match=rf"{path}: refused to unpickle posix.system"):
        load(path)
    assert not marker.exists(), "the pickle payload ran"


def test_pth_payload_never_runs(tmp_path):
    from dld_d2.checkpoint.checkpointer import CheckpointError

    marker = tmp_path / "PWNED_BY_PTH"
    torch.save({"model": {"x": _Payload(marker)}}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refused to load .*evil.pth: it holds Python objects"):
        _load_pkl_as_weights(tmp_path / "evil.pth")
    assert not marker.exists()


def test_detectron2_format_pkl_still_loads(spotter_checkpoint, tmp_path):
    # As in the model zoo: a dict of numpy arrays (protocol 2, latin-1 strings) with __author__.
    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    _, state = spotter_checkpoint
    arrays = {k: v.numpy() for k, v in state.items()}
    with open(tmp_path / "zoo.pkl", "wb") as f:
        pickle.dump({"model": arrays, "__author__": "Detectron2 Model Zoo", "step": np.int64(3)},
                    f, protocol=2)
    model = _spotter()
    TextSpotterCheckpointer(model, require="complete").load(str(tmp_path / "zoo.pkl"))
    got = model.state_dict()
    assert all(torch.equal(got[k], state[k]) for k in state)


def test_checkpoint_that_fits_nothing_is_an_error(spotter_checkpoint, tmp_path):
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import CheckpointError, TextSpotterCheckpointer

    torch.save({"model": {"fc.weight": torch.zeros(3, 3)}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"other.pth matches none of the \d+ parameters"):
        TextSpotterCheckpointer(_spotter()).load(str(tmp_path / "other.pth"))
    # A DLD checkpoint given to a TextSpotter config.
    dld = build_model(_cfg(QUICK_DLD, "MODEL.DLD.TEACHER_WEIGHTS", str(spotter_checkpoint[0])))
    TextSpotterCheckpointer(dld, save_dir=str(tmp_path)).save("dld")
    with pytest.raises(CheckpointError, match="dld.pth is a DLD checkpoint .*teacher, student, selector"):
        TextSpotterCheckpointer(_spotter()).load(str(tmp_path / "dld.pth"))
    # ... and as teacher weights.
    with pytest.raises(CheckpointError, match="MODEL.DLD.TEACHER_WEIGHTS=.*dld.pth is a DLD checkpoint"):
        _dld_for_training("MODEL.DLD.TEACHER_WEIGHTS", str(tmp_path / "dld.pth"))


def test_incomplete_checkpoint_initialises_training_but_fails_evaluation(spotter_checkpoint, tmp_path, caplog):
    from dld_d2.checkpoint.checkpointer import CheckpointError, TextSpotterCheckpointer

    _, state = spotter_checkpoint
    backbone = {k: v for k, v in state.items() if k.startswith("backbone.")}
    torch.save({"model": backbone}, tmp_path / "backbone.pth")
    model = _spotter()
    TextSpotterCheckpointer(model).load(str(tmp_path / "backbone.pth"))  # allowed, and says so
    assert torch.equal(model.state_dict()["backbone.bottom_up.stem.conv1.weight"],
                       state["backbone.bottom_up.stem.conv1.weight"])
    assert "left at their initialisation: proposal_generator.rpn_head" in caplog.text
    with pytest.raises(CheckpointError, match=r"backbone.pth lacks \d+ of the \d+ parameters .*roi_heads"):
        TextSpotterCheckpointer(_spotter(), require="complete").load(str(tmp_path / "backbone.pth"))
    with pytest.raises(CheckpointError, match="MODEL.WEIGHTS is empty"):
        TextSpotterCheckpointer(_spotter(), require="complete").load("")


def test_files_that_are_no_checkpoint_say_what_they_are(tmp_path):
    from dld_d2.checkpoint.checkpointer import CheckpointError

    (tmp_path / "notes.pth").write_text("epoch 3: loss 0.1\n")
    with pytest.raises(CheckpointError, match=r"notes.pth is not a readable PyTorch checkpoint: "
                                              r"it is a text file, starting 'epoch 3: loss 0.1'"):
        _load_pkl_as_weights(tmp_path / "notes.pth")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pkl is not a readable .pkl checkpoint: it is empty"):
        _load_pkl_as_weights(tmp_path / "empty.pkl")


def test_eval_only_refuses_a_checkpoint_for_another_model(spotter_checkpoint, tmp_path):
    torch.save({"model": {"fc.weight": torch.zeros(3, 3)}}, tmp_path / "other.pth")
    proc = subprocess.run([sys.executable, "train_net.py", "--config-file", QUICK, "--eval-only",
                           "MODEL.WEIGHTS", str(tmp_path / "other.pth"), "OUTPUT_DIR", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, DLD_D2_CACHE=str(tmp_path / "cache")))
    assert proc.returncode != 0
    assert "other.pth matches none of the" in proc.stderr


# ------------------------------------------------------------------------ saving and resuming
def test_a_kill_during_a_save_keeps_the_previous_checkpoint(spotter_checkpoint, tmp_path, monkeypatch):
    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    model = _spotter()
    ckpt = TextSpotterCheckpointer(model, save_dir=str(tmp_path))
    ckpt.save("model_final")
    before = (tmp_path / "model_final.pth").read_bytes()

    def killed(data, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # the process dies mid-write

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save("model_final")
    assert (tmp_path / "model_final.pth").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint", "model_final.pth"]


def test_resume_from_a_truncated_checkpoint_names_the_intact_one(tmp_path):
    from dld_d2.checkpoint.checkpointer import CheckpointError, TextSpotterCheckpointer

    ckpt = TextSpotterCheckpointer(_spotter(), save_dir=str(tmp_path))
    ckpt.save("model_0000001")
    os.utime(tmp_path / "model_0000001.pth", (1, 1))  # older than what follows
    ckpt.save("model_final")
    data = (tmp_path / "model_final.pth").read_bytes()
    (tmp_path / "model_final.pth").write_bytes(data[: len(data) // 2])  # e.g. a full disk
    with pytest.raises(CheckpointError) as info:
        TextSpotterCheckpointer(_spotter(), save_dir=str(tmp_path)).resume_or_load("", resume=True)
    msg = str(info.value)
    assert "--resume: the last checkpoint cannot be loaded" in msg
    assert "model_final.pth is not a readable PyTorch checkpoint: it is a zip archive" in msg
    assert f"the newest intact checkpoint is {tmp_path / 'model_0000001.pth'}" in msg


# ----------------------------------------------------------------------------- config values
@pytest.mark.parametrize("opts, message", [
    (("MODEL.DLD.SCALES", "()"), r"MODEL.DLD.SCALES=\(\): one or more factors"),
    (("MODEL.DLD.SCALES", "(0.5, 1.5)"), r"MODEL.DLD.SCALES=\(0.5, 1.5\)"),
    (("MODEL.DLD.SCALE_POLICY", "fixed", "MODEL.DLD.FIXED_SCALE", "0.0"),
     r"MODEL.DLD.FIXED_SCALE=0.0: a factor .* in \(0, 1\]"),
    (("MODEL.DLD.TEACHER_WEIGHTS", ""), "MODEL.DLD.TEACHER_WEIGHTS and MODEL.WEIGHTS are both empty"),
])
def test_dld_config_values_are_checked_at_build_or_load(opts, message, spotter_checkpoint):
    with pytest.raises(ValueError, match=message):
        _dld_for_training("MODEL.DLD.TEACHER_WEIGHTS", str(spotter_checkpoint[0]), *opts)
