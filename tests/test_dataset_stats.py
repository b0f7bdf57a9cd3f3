"""tools/dataset_stats.py: as users run it (a subprocess) and in-process."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "dataset_stats.py"

# zip -> (detected format, images, care, don't-care), as the evaluation data folder's README counts.
DAVAR_EXPECTED = {
    "davar_format/gt-icdar2013.zip": ("ic15", 233, 917, 720),  # the IC13 quad form reads as IC15
    "davar_format/gt-icdar2015.zip": ("ic15", 500, 2077, 3153),
    "davar_format/total-text-gt.zip": ("totaltext_poly", 300, 2215, 328),
}


def _start(*args, cwd=REPO):
    return subprocess.Popen(
        [sys.executable, str(TOOL), *map(str, args)],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(proc):
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def _load_tool():
    return load_script("tools/dataset_stats.py")


@pytest.fixture(scope="module")
def tool():
    """The tool's module, for in-process runs (a subprocess costs seconds of imports)."""
    return _load_tool()


def counts(stats):
    return stats["format"], stats["images"], stats["care"], stats["dont_care"]


def run_json(tool, capsys, *args):
    assert tool.main(["--json", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def eval_gt(eval_data):
    return eval_data / "gt"


@pytest.fixture(scope="module")
def subprocess_runs(eval_data, eval_gt, tmp_path_factory):
    """The tool as users run it, in concurrent subprocesses: --json on each DAVAR zip from
    another working directory, and README.md's command from the repo root (its `../shared/eval`
    is the evaluation data folder, wherever DLD_D2_EVAL_DATA puts it)."""
    elsewhere = tmp_path_factory.mktemp("cwd")
    procs = {rel: _start("--json", eval_gt / rel, cwd=elsewhere) for rel in DAVAR_EXPECTED}
    procs["readme"] = _start(eval_data / "gt/davar_format/gt-icdar2015.zip")
    return {name: _finish(p) for name, p in procs.items()}


@pytest.mark.parametrize("rel", list(DAVAR_EXPECTED))
def test_davar_zips_by_subprocess(subprocess_runs, rel):
    stats = json.loads(subprocess_runs[rel])
    assert counts(stats) == DAVAR_EXPECTED[rel]
    assert stats["skipped"] == {}


def test_readme_command(subprocess_runs):
    out = subprocess_runs["readme"]
    assert "care instances              2077" in out and "3153 (###: 3153)" in out


def test_davar_zip_details(subprocess_runs, tool, capsys, eval_gt):
    ic13 = run_json(tool, capsys, "--format", "ic13", eval_gt / "davar_format/gt-icdar2013.zip")
    assert counts(ic13) == ("ic13", 233, 917, 720)
    assert ic13["flagged"] == {"degenerate": 1}  # gt_img_50's zero-area "###" box, kept
    tt = json.loads(subprocess_runs["davar_format/total-text-gt.zip"])
    assert tt["flagged"] == {"invalid_polygon_kept": 1}  # img557 "evo"
    assert sum(tt["points_per_polygon"].values()) == 2543 and tt["points_per_polygon"]["4"] == 1225
    # Total-Text's GT is not pre-filtered: 1- and 2-character care words.
    assert tt["care_text_length"]["1"] == 56 and tt["care_text_length"]["2"] == 192


def test_adet_zips(tool, capsys, eval_gt):
    ic15 = run_json(tool, capsys, eval_gt / "adelaidet_format/gt_icdar2015.zip")
    assert counts(ic15) == ("adet", 500, 2077, 3153)
    tt = run_json(tool, capsys, eval_gt / "adelaidet_format/gt_totaltext.zip")
    assert counts(tt) == ("adet", 300, 2214, 328)  # 2,542 lines
    assert tt["flagged"] == {} and tt["skipped"] == {}  # no "evo" polygon in this copy


def test_oov_skips_vocab_and_errors(tool, capsys, tmp_path):
    gts = tmp_path / "gts"
    gts.mkdir()
    (gts / "gt_img_1.txt").write_text(
        "1,1,9,1,9,9,1,9,Café\n1,1,9,1,9,9,1,9,ÉTÉ\n1,1,9,1,9,9,1,9,###\n"
        "1,1,nine,1,9,9,1,9,bad\n1,1,9,1,9,9,1,9,plain\n",
        encoding="utf-8",
    )
    stats = run_json(tool, capsys, "--format", "ic15", gts)
    assert (stats["images"], stats["care"], stats["dont_care"]) == (1, 3, 1)
    assert stats["skipped"] == {"malformed_line": 1}
    # Care instances with OOV characters, and per character the instances holding it.
    assert stats["oov_instances"] == 2 and stats["oov_chars"] == {"É": 1, "é": 1}
    assert stats["care_text_length"] == {"3": 1, "4": 1, "5": 1}
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join("CafÉTplin") + "\n", encoding="utf-8")
    custom = run_json(tool, capsys, "--vocab", vocab, gts)
    assert custom["oov_instances"] == 1 and custom["oov_chars"] == {"é": 1}
    assert custom["vocabulary"]["classes"] == 2 + 9
    assert tool.main([str(gts)]) == 0
    assert "skipped                     malformed_line: 1" in capsys.readouterr().out
    assert tool.main([str(tmp_path / "nothing.zip")]) == 1
    assert "annotations not found" in capsys.readouterr().err
