"""tools/synthetic_demo.py's pipeline steps, without running them."""
import argparse
import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "synthetic_demo.py"


def _demo_module():
    spec = importlib.util.spec_from_file_location("synthetic_demo", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_step_starts_a_fresh_metrics_file(tmp_path):
    # Detectron2 appends to OUTPUT_DIR/metrics.json: a rerun must not mix in the older curves.
    demo = _demo_module()
    run = demo.Pipeline(argparse.Namespace(output=str(tmp_path), opts=["SOLVER.MAX_ITER", "2"]), "test")
    folder = tmp_path / "dld_gamma0.1"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"iteration": 499}\n')
    (folder / "model_final.pth").write_text("older weights")
    commands = []
    run.step = lambda name, cmd: commands.append((name, cmd))
    assert run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", ["MODEL.DLD.PENALTY_WEIGHT", "0.1"]) == str(folder)
    assert not (folder / "metrics.json").exists()
    assert (folder / "model_final.pth").exists()  # only the appended-to file goes
    assert commands == [("dld_gamma0.1", [
        "train_net.py", "--config-file", "configs/synth/distill_cpu.yaml", "OUTPUT_DIR", str(folder),
        "SOLVER.MAX_ITER", "2", "MODEL.DLD.PENALTY_WEIGHT", "0.1"])]
