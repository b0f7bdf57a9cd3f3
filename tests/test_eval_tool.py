"""tools/evaluate_predictions.py: official output lines, options, and clear errors."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import evaluate_predictions as tool  # noqa: E402

DOCUMENTED = [
    "num_gt, num_det:  917 1038",
    "Origin:",
    "det_recall:  0.9269 det_precision:  0.9626 det_hmean:  0.9444",
    "spot_recall:  0.795 spot_precision:  0.8256 spot_hmean:  0.81",
]


@pytest.fixture(scope="module")
def paths(eval_data):
    return {
        "gt": eval_data / "gt" / "davar_format" / "gt-icdar2013.zip",
        "pred": eval_data / "preds" / "mango_r50_ic13_none.zip",
        "lex": eval_data / "lexicons" / "icdar2013",
    }


def run(capsys, *argv):
    rc = tool.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out.strip().splitlines(), out.err


def test_documented_command(paths, capsys):
    rc, lines, _ = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--iou", "0.1")
    assert rc == 0 and lines == DOCUMENTED


def test_script_runs_from_the_command_line(paths):
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "evaluate_predictions.py"), "--gt", str(paths["gt"]),
                           "--pred", str(paths["pred"]), "--iou", "0.1"], capture_output=True, text=True,
                          cwd=REPO.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == DOCUMENTED


def test_word_spotting_json(paths, capsys):
    rc, lines, _ = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--iou", "0.1", "--mode", "ws", "--json")
    data = json.loads("\n".join(lines))
    assert rc == 0 and data["counts"]["num_gt_care"] == 856 and data["counts"]["num_det"] == 1038
    assert [round(data["spotting"][k], 4) for k in ("recall", "precision", "hmean")] == [0.8049, 0.8362, 0.8202]
    assert data["settings"]["area_precision_threshold"] == 0.1 and data["info"]["protocol"] == "davar"


def test_generic_lexicon_and_written_submission(paths, capsys, tmp_path):
    out = tmp_path / "generic.zip"
    rc, lines, err = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--iou", "0.1", "--lexicon", "generic",
                         "--lexicon-path", paths["lex"] / "GenericVocabulary.txt", "--write-pred", out)
    assert rc == 0 and lines[3] == "spot_recall:  0.8244 spot_precision:  0.8562 spot_hmean:  0.84"
    assert "189 skipped, 0 dropped" in err
    with zipfile.ZipFile(out) as zf:  # same entry names as the input, ready for the official script
        assert sorted(zf.namelist()) == sorted(zipfile.ZipFile(paths["pred"]).namelist())
    rc, lines2, _ = run(capsys, "--gt", paths["gt"], "--pred", out, "--iou", "0.1")
    assert lines2 == lines


def test_strong_lexicon_folder_and_pairs_rule(paths, capsys, tmp_path):
    with zipfile.ZipFile(paths["lex"] / "strong_lexicon.zip") as zf:
        zf.extractall(tmp_path)
    rc, lines, err = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--iou", "0.1", "--lexicon", "strong",
                         "--lexicon-path", tmp_path / "strong_lexicon", "--lexicon-rule", "pairs")
    assert rc == 0 and "256 dropped" in err
    assert lines[2:] == ["det_recall:  0.8244 det_precision:  0.9921 det_hmean:  0.9005",
                         "spot_recall:  0.8048 spot_precision:  0.9685 spot_hmean:  0.8791"]


def test_adelaidet_format_is_scored_with_adelaidet_rules(eval_data, capsys, tmp_path):
    gt = eval_data / "gt" / "adelaidet_format" / "gt_icdar2015.zip"
    # The GT itself as a submission (its %07d entries and ',####' lines), care words only.
    pred = tmp_path / "pred.zip"
    with zipfile.ZipFile(gt) as src, zipfile.ZipFile(pred, "w") as dst:
        for name in src.namelist():
            keep = [ln for ln in src.read(name).decode().splitlines() if not ln.endswith(",#######")]
            dst.writestr(name, "\n".join(keep) + "\n")
    rc, lines, _ = run(capsys, "--gt", gt, "--pred", pred, "--json")
    data = json.loads("\n".join(lines))
    assert data["info"]["protocol"] == "adet" and data["settings"]["coordinate_dtype"] == "float32"
    assert data["counts"]["num_gt_care"] == 2077 and data["spotting"]["hmean"] == 1.0


# ------------------------------------------------------------------------------------------
# Errors name the file, entry and line
# ------------------------------------------------------------------------------------------
def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_missing_files_are_named(paths, capsys, tmp_path):
    rc, _, err = run(capsys, "--gt", tmp_path / "nope.zip", "--pred", paths["pred"])
    assert rc == 2 and "nope.zip" in err
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", tmp_path / "missing-pred.zip")
    assert rc == 2 and "missing-pred.zip" in err
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--lexicon", "weak",
                     "--lexicon-path", tmp_path / "voc.txt")
    assert rc == 2 and "voc.txt" in err
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--lexicon", "weak")
    assert rc == 2 and "--lexicon-path" in err


def test_unwritable_written_submission_is_named(paths, capsys, tmp_path):
    folder = tmp_path / "a_folder.zip"
    folder.mkdir()
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", paths["pred"], "--write-pred", folder)
    assert rc == 2 and err.startswith("error: ") and "a_folder.zip" in err
    assert "--write-pred" in err and "Traceback" not in err


def test_bad_entries_and_lines_are_named(paths, capsys, tmp_path):
    bad_name = make_zip(tmp_path / "a.zip", {"img_1.txt": "", "res_img_2.txt": ""})
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", bad_name)
    assert rc == 2 and "res_img_2.txt" in err and "ZIP entry not valid" in err
    bad_line = make_zip(tmp_path / "b.zip", {"img_3.txt": "1,2,3,4,5,6,7,8,OK\n1,2,3.5,4,5,6,7,8,BAD\n"})
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", bad_line)
    assert rc == 2 and "img_3.txt: line 2" in err and "'3.5'" in err
    comma = make_zip(tmp_path / "c.zip", {"img_4.txt": "1,2,3,4,5,6,7,8,A,B\n"})
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", comma)
    assert rc == 2 and "img_4.txt: line 1" in err
    unknown = make_zip(tmp_path / "d.zip", {"img_999.txt": "1,2,3,4,5,6,7,8,X\n"})
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", unknown)
    assert rc == 2 and "'999'" in err and "d.zip" in err
    not_zip = tmp_path / "e.zip"
    not_zip.write_text("hello")
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", not_zip)
    assert rc == 2 and "not a zip" in err


def test_gt_zip_name_selects_the_patterns(paths, capsys, tmp_path):
    """Renamed GT zip → generic '([0-9]+).txt' patterns, exactly as the official script."""
    renamed = shutil.copy(paths["gt"], tmp_path / "my-gt.zip")
    rc, _, err = run(capsys, "--gt", renamed, "--pred", paths["pred"])
    assert rc == 2 and "ZIP entry not valid" in err
    tt_like = make_zip(tmp_path / "total-text-gt.zip", {"poly_gt_img12.txt": "0,0,10,0,10,10,0,10,evo\n"})
    pred = make_zip(tmp_path / "p.zip", {"img12.txt": "0,0,10,0,10,10,0,10,EVO\n"})
    rc, lines, _ = run(capsys, "--gt", tt_like, "--pred", pred)
    assert rc == 0 and lines[3] == "spot_recall:  1.0 spot_precision:  1.0 spot_hmean:  1.0"
