"""tools/evaluate_predictions.py on damaged zips and bad coordinates: one error line naming the
file, entry and line, exit code 2, no traceback. Submissions and GT zips get the same checks."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dld_d2.evaluation.submission import (
    SubmissionFormatError,
    parse_adet_lines,
    parse_davar_lines,
    read_gt_zip,
    read_submission_zip,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import evaluate_predictions as tool  # noqa: E402


@pytest.fixture(scope="module")
def paths(eval_data):
    return {
        "gt": eval_data / "gt" / "davar_format" / "gt-icdar2013.zip",
        "pred": eval_data / "preds" / "mango_r50_ic13_none.zip",
        "adet_gt": eval_data / "gt" / "adelaidet_format" / "gt_icdar2015.zip",
    }


def run(capsys, *argv):
    rc = tool.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def assert_one_error_line(err, *parts):
    """Exactly one stderr line, starting with 'error:', holding every part; no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for part in parts:
        assert part in lines[0], (part, lines[0])


def rewrite_zip(src, dst, entry=None, line_no=None, edit=None, compression=zipfile.ZIP_DEFLATED):
    """Copy `src` to `dst`; line `line_no` (1-based) of `entry` becomes edit(line)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for name in zin.namelist():
            lines = zin.read(name).decode("utf-8").split("\n")
            if name == entry:
                lines[line_no - 1] = edit(lines[line_no - 1])
            zout.writestr(name, "\n".join(lines))
    return dst


def set_first_coordinate(value):
    return lambda line: value + line[line.index(","):]


def corrupt_member(path, entry, offset=5, count=5):
    """Flip `count` bytes inside `entry`'s stored (possibly compressed) data."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(entry)
    data = bytearray(Path(path).read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # local header size
    for i in range(start + offset, start + offset + count):
        data[i] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    return path


def adet_submission(adet_gt, dst, edit_line=None, value=None):
    """The AdelaiDet-format GT as a submission (its care words), optionally one line edited."""
    with zipfile.ZipFile(adet_gt) as src, zipfile.ZipFile(dst, "w") as out:
        for name in src.namelist():
            keep = [ln for ln in src.read(name).decode().splitlines() if not ln.endswith(",#######")]
            if name == "0000002.txt" and edit_line is not None:
                keep[edit_line - 1] = set_first_coordinate(value)(keep[edit_line - 1])
            out.writestr(name, "\n".join(keep) + "\n")
    return dst


# ------------------------------------------------------------------------------------------
# Damaged zips
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflated", "stored"])
def test_crc_corrupt_member_is_named(paths, capsys, tmp_path, compression):
    # deflated: a broken deflate stream (zlib.error); stored: a bad CRC-32 (BadZipFile)
    bad = corrupt_member(rewrite_zip(paths["pred"], tmp_path / "crc.zip", compression=compression), "img_10.txt")
    rc, out, err = run(capsys, "--gt", paths["gt"], "--pred", bad, "--iou", "0.1")
    assert rc == 2 and out == ""
    assert_one_error_line(err, f"{bad}:img_10.txt:", "corrupt")


def test_member_data_cut_out_is_reported(paths, capsys, tmp_path):
    """Bytes missing from the middle: the central directory survives, member offsets are wrong."""
    src = Path(paths["pred"]).read_bytes()
    with zipfile.ZipFile(paths["pred"]) as zf:
        info = zf.getinfo("img_10.txt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    bad = tmp_path / "cut.zip"
    bad.write_bytes(src[:start + 20] + src[start + 60:])
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", bad)
    assert rc == 2
    assert_one_error_line(err, f"{bad}:img_", ".txt: ZIP entry is corrupt")


@pytest.mark.parametrize("kind", ["text", "truncated", "empty"])
def test_not_a_zip_or_truncated_zip(paths, capsys, tmp_path, kind):
    bad = tmp_path / f"{kind}.zip"
    data = {"text": b"hello\n", "truncated": Path(paths["pred"]).read_bytes()[:5000], "empty": b""}[kind]
    bad.write_bytes(data)
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", bad)
    assert rc == 2
    assert_one_error_line(err, f"{bad}: not a zip file, or a truncated one")


# ------------------------------------------------------------------------------------------
# Coordinates: finite and within int32
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["99999999999", "-99999999999", "2147483648", "-2147483649"])
def test_coordinate_beyond_int32(paths, capsys, tmp_path, value):
    bad = rewrite_zip(paths["pred"], tmp_path / "big.zip", "img_1.txt", 2, set_first_coordinate(value))
    rc, _, err = run(capsys, "--gt", paths["gt"], "--pred", bad, "--iou", "0.1")
    assert rc == 2
    assert_one_error_line(err, f"{bad}:img_1.txt: line 2: coordinate '{value}' is out of range",
                          "[-2147483648, 2147483648)")


def test_int32_limits_are_accepted(paths, capsys, tmp_path):
    """The extreme int32 values are valid coordinates (a far-away detection scores as a miss)."""
    pred = rewrite_zip(paths["pred"], tmp_path / "edge.zip", "img_1.txt", 2,
                       lambda ln: "2147483647,-2147483648," + ln.split(",", 2)[2])
    rc, out, _ = run(capsys, "--gt", paths["gt"], "--pred", pred, "--iou", "0.1")
    assert rc == 0 and "num_gt, num_det:  917 1038" in out


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan"])
def test_nan_coordinates(paths, capsys, tmp_path, value):
    bad = adet_submission(paths["adet_gt"], tmp_path / "nan.zip", 2, value)
    rc, _, err = run(capsys, "--gt", paths["adet_gt"], "--pred", bad)
    assert rc == 2
    assert_one_error_line(err, f"{bad}:0000002.txt: line 2: coordinate '{value}' is not a finite number")


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400"])
def test_inf_coordinates(paths, capsys, tmp_path, value):
    bad = adet_submission(paths["adet_gt"], tmp_path / "inf.zip", 2, value)
    rc, out, err = run(capsys, "--gt", paths["adet_gt"], "--pred", bad)
    assert rc == 2 and out == ""
    assert_one_error_line(err, f"{bad}:0000002.txt: line 2: coordinate '{value}' is not a finite number")


def test_adet_beyond_int32(paths, capsys, tmp_path):
    bad = adet_submission(paths["adet_gt"], tmp_path / "big.zip", 3, "1e12")
    rc, _, err = run(capsys, "--gt", paths["adet_gt"], "--pred", bad)
    assert rc == 2
    assert_one_error_line(err, f"{bad}:0000002.txt: line 3: coordinate '1e12' is out of range")


def test_valid_adet_submission_still_scores(paths, capsys, tmp_path):
    pred = adet_submission(paths["adet_gt"], tmp_path / "ok.zip")
    rc, out, _ = run(capsys, "--gt", paths["adet_gt"], "--pred", pred)
    assert rc == 0 and "spot_recall:  1.0 spot_precision:  1.0 spot_hmean:  1.0" in out


# ------------------------------------------------------------------------------------------
# GT zips come from users too
# ------------------------------------------------------------------------------------------
def test_crc_corrupt_gt_zip(paths, capsys, tmp_path):
    (tmp_path / "gt").mkdir()
    gt = rewrite_zip(paths["gt"], tmp_path / "gt" / "gt-icdar2013.zip", compression=zipfile.ZIP_STORED)
    corrupt_member(gt, "gt_img_7.txt")
    rc, _, err = run(capsys, "--gt", gt, "--pred", paths["pred"])
    assert rc == 2
    assert_one_error_line(err, f"{gt}:gt_img_7.txt:", "corrupt")


def test_gt_coordinate_beyond_int32(paths, capsys, tmp_path):
    (tmp_path / "gt").mkdir()
    gt = rewrite_zip(paths["gt"], tmp_path / "gt" / "gt-icdar2013.zip", "gt_img_1.txt", 3,
                     set_first_coordinate("99999999999"))
    rc, _, err = run(capsys, "--gt", gt, "--pred", paths["pred"])
    assert rc == 2
    assert_one_error_line(err, f"{gt}:gt_img_1.txt: line 3: coordinate '99999999999' is out of range")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_gt_nan_and_inf(paths, capsys, tmp_path, value):
    (tmp_path / "gt").mkdir()
    gt = tmp_path / "gt" / "gt_icdar2015.zip"
    with zipfile.ZipFile(paths["adet_gt"]) as src, zipfile.ZipFile(gt, "w") as out:
        for name in src.namelist():
            lines = src.read(name).decode().split("\n")
            if name == "0000002.txt":
                lines[1] = set_first_coordinate(value)(lines[1])
            out.writestr(name, "\n".join(lines))
    rc, _, err = run(capsys, "--gt", gt, "--pred", paths["adet_gt"])
    assert rc == 2
    assert_one_error_line(err, f"{gt}:0000002.txt: line 2: coordinate '{value}' is not a finite number")


# ------------------------------------------------------------------------------------------
# The readers themselves (other callers get the same protection)
# ------------------------------------------------------------------------------------------
def test_readers_raise_submission_format_error(paths, tmp_path):
    with pytest.raises(SubmissionFormatError, match=r"f\.txt: line 2: coordinate '99999999999' is out of range"):
        parse_davar_lines("0,0,1,0,1,1,a\n99999999999,0,1,0,1,1,b\n", "f.txt")
    with pytest.raises(SubmissionFormatError, match=r"f\.txt: line 1: coordinate 'nan' is not a finite number"):
        parse_adet_lines("nan,0,1,0,1,1,####a\n", "f.txt")
    assert parse_adet_lines("2147483647.5,-2147483648,1,0,1,1,####a\n")[0][0][:2] == [2147483647.5, -2147483648.0]
    bad = corrupt_member(rewrite_zip(paths["pred"], tmp_path / "crc.zip", compression=zipfile.ZIP_STORED),
                         "img_10.txt")
    with pytest.raises(SubmissionFormatError, match="img_10.txt: ZIP entry is corrupt"):
        read_submission_zip(bad, paths["gt"])
    gt = corrupt_member(rewrite_zip(paths["gt"], tmp_path / "gt-icdar2013.zip", compression=zipfile.ZIP_STORED),
                        "gt_img_7.txt")
    with pytest.raises(SubmissionFormatError, match="gt_img_7.txt: ZIP entry is corrupt"):
        read_gt_zip(gt)


# ------------------------------------------------------------------------------------------
# From the command line: no traceback, exit code 2
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["crc", "nan"])
def test_command_line_prints_no_traceback(paths, tmp_path, case):
    """Run as a script, against this checkout's package (PYTHONPATH), not an installed copy."""
    if case == "crc":
        gt = paths["gt"]
        bad = corrupt_member(rewrite_zip(paths["pred"], tmp_path / "crc.zip"), "img_10.txt")
        expected = f"{bad}:img_10.txt: ZIP entry is corrupt"
    else:
        gt = paths["adet_gt"]
        bad = adet_submission(gt, tmp_path / "nan.zip", 2, "nan")
        expected = f"{bad}:0000002.txt: line 2: coordinate 'nan' is not a finite number"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "evaluate_predictions.py"), "--gt", str(gt),
                           "--pred", str(bad)], capture_output=True, text=True, cwd=REPO.parent, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]  # other lines: library warnings
    assert len(errors) == 1 and expected in errors[0], proc.stderr
