#!/usr/bin/env python3
"""Speed benchmark of the evaluation protocol; writes benchmarks/evaluation_speed.{json,md}.

Scores the IC15 GT (gt-icdar2015.zip, 500 images) against a synthetic ~2,500-detection
submission, without a lexicon and with the ~88k-word generic lexicon (DAVAR rule), and records
the time of each step. There is no public IC15 prediction zip, so the submission is built
deterministically from the GT (see :func:`synthesize_submission`).

With --official-dir DIR (a folder holding DAVAR-Lab-OCR's evaluation `script.py` and
`rrc_evaluation_funcs.py`, fetched separately; nothing of it is part of this project) the
official scorer is timed on the same zips and its printed summary compared with ours. The
official lexicon step (a pure-Python loop over the lexicon per word in DAVAR's
test_ic15.py) cannot run without its model code; its algorithm is re-timed here on a sample of
words and extrapolated.

    python tools/benchmark_evaluation.py --eval-dir ../shared/eval [--official-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rapidfuzz.distance import Levenshtein

from dld_d2.evaluation import lexicon as lexicon_mod
from dld_d2.evaluation.protocol import as_points, polygon_area
from dld_d2.evaluation.submission import read_gt_zip, write_submission_zip

# The scoring command, tools/evaluate_predictions.py: this script's folder is on sys.path.
from evaluate_predictions import build_parser, run

REPO = Path(__file__).resolve().parents[1]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _edit(rng: np.random.Generator, word: str, n: int) -> str:
    """`n` random single-character edits (substitution, insertion or deletion)."""
    w = list(word)
    for _ in range(n):
        op = rng.integers(3) if len(w) > 1 else 1
        pos = int(rng.integers(len(w) + (op == 1))) if w else 0
        ch = ALPHABET[int(rng.integers(26))]
        if op == 0:
            w[pos] = ch
        elif op == 1:
            w.insert(pos, ch)
        else:
            del w[pos]
    return "".join(w)


def _jitter(rng: np.random.Generator, pts: np.ndarray, rel: float) -> np.ndarray:
    size = max(1.0, float(min(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))))
    return pts + rng.normal(0.0, rel * size, size=pts.shape)


def _bow_tie(pts: np.ndarray) -> np.ndarray:
    """Swap two consecutive vertices in the middle of the contour → self-intersecting."""
    out = pts.copy()
    i = len(pts) // 2 - 1
    out[[i, i + 1]] = out[[i + 1, i]]
    return out


def synthesize_submission(gt: dict, seed: int = 0) -> dict:
    """Deterministic synthetic predictions {key: [(points, text, score)]} from a GT dict.

    Per care GT: detected with p=0.88 (corners jittered by N(0, 0.06·short side)); its text is
    the GT (62%), the GT with 1 edit (15%) or 2 edits (10%), lower-cased (6%), with its first/last
    character dropped (4%), or empty (3%). 2% of detections are duplicated, 1% are turned into
    bow-ties. Don't-care GTs are detected with p=0.10 (random word). False positives: Poisson(0.6)
    per image, random boxes in the GT extent with GT words from other images or random strings.
    Lines are ordered by a random descending score.
    """
    rng = np.random.default_rng(seed)
    vocab = sorted({t for items in gt.values() for _, t, dc in items if not dc})
    out = {}
    for key in gt:
        items = gt[key]
        dets = []
        pts_all = [as_points(p) for p, _, _ in items if len(as_points(p))]
        if pts_all:
            allp = np.vstack(pts_all)
            x0, y0 = allp.min(axis=0) - 50
            x1, y1 = allp.max(axis=0) + 50
        else:
            x0, y0, x1, y1 = 0, 0, 1280, 720
        for pts, text, dc in items:
            pts = as_points(pts)
            if len(pts) < 3 or polygon_area(pts) == 0:
                continue
            if dc:
                if rng.random() < 0.10:
                    dets.append((_jitter(rng, pts, 0.06), vocab[int(rng.integers(len(vocab)))]))
                continue
            if rng.random() >= 0.88:
                continue
            u = rng.random()
            if u < 0.62:
                t = text
            elif u < 0.77:
                t = _edit(rng, text.upper(), 1)
            elif u < 0.87:
                t = _edit(rng, text.upper(), 2)
            elif u < 0.93:
                t = text.lower()
            elif u < 0.97:
                t = text[1:] if rng.random() < 0.5 else text[:-1]
            else:
                t = ""
            p = _jitter(rng, pts, 0.06)
            if rng.random() < 0.01:
                p = _bow_tie(p)
            dets.append((p, t))
            if rng.random() < 0.02:
                dets.append((_jitter(rng, pts, 0.06), t))
        for _ in range(int(rng.poisson(0.6))):
            w, h = rng.uniform(20, 200), rng.uniform(10, 60)
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            box = np.array([[cx, cy], [cx + w, cy], [cx + w, cy + h], [cx, cy + h]])
            t = vocab[int(rng.integers(len(vocab)))] if rng.random() < 0.5 else \
                "".join(ALPHABET[int(i)] for i in rng.integers(26, size=int(rng.integers(3, 9))))
            dets.append((box, t))
        scores = rng.random(len(dets))
        out[key] = [(np.round(p, 1), t, float(s)) for (p, t), s in zip(dets, scores)]
    return out


def _timed(fn, repeat: int = 1):
    """(best wall time, value returned by the best run) over `repeat` runs."""
    best, value = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        v = fn()
        dt = time.perf_counter() - t
        if best is None or dt < best:
            best, value = dt, v
    return best, value


def _tool_args(gt, pred, **kw):
    argv = ["--gt", str(gt), "--pred", str(pred), "--iou", str(kw.get("iou", 0.5))]
    if kw.get("lexicon"):
        argv += ["--lexicon", kw["lexicon"], "--lexicon-path", str(kw["lexicon_path"])]
    if kw.get("write_pred"):
        argv += ["--write-pred", str(kw["write_pred"])]
    return build_parser().parse_args(argv)


def _reference_nearest(lexicon, word):
    """The official algorithm: scan the lexicon, keep the strictly smaller distance."""
    best, dmin = " ", 100
    up = word.upper()
    for w in lexicon:
        d = Levenshtein.distance(up, w.upper())
        if d < dmin:
            dmin, best = d, w
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", default=os.environ.get("DLD_D2_EVAL_DATA") or str(REPO.parent / "shared" / "eval"),
                    help="evaluation data folder: gt/, lexicons/ (default: $DLD_D2_EVAL_DATA, else "
                         "../shared/eval beside the repository)")
    ap.add_argument("--official-dir", help="folder with DAVAR's script.py + rrc_evaluation_funcs.py (optional)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "evaluation_speed"), help="output path stem")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-sample", type=int, default=100,
                    help="words timed with the official pure-Python lexicon loop (extrapolated)")
    args = ap.parse_args(argv)

    ev = Path(args.eval_dir)
    gt_zip = ev / "gt" / "davar_format" / "gt-icdar2015.zip"
    generic = ev / "lexicons" / "icdar2015" / "GenericVocabulary.txt"
    for p in (gt_zip, generic):
        if not p.is_file():
            print(f"error: not found: {p}", file=sys.stderr)
            return 2

    gt, _ = read_gt_zip(gt_zip)
    preds = synthesize_submission(gt, args.seed)
    n_det = sum(len(v) for v in preds.values())
    tmp = Path(tempfile.mkdtemp(prefix="dld_eval_bench_"))
    sub = tmp / "ic15_synthetic.zip"
    # Entry names follow the IC15 prediction pattern (img_N.txt); polygons are written as they
    # are (bow-ties included) to exercise the Polygon3-compatible geometry.
    write_submission_zip(sub, preds, naming=lambda k: f"img_{k}.txt", invalid="keep")
    lex_sub = tmp / "ic15_synthetic_generic.zip"

    results = {"input": {
        "gt": "gt/davar_format/gt-icdar2015.zip", "lexicon": "lexicons/icdar2015/GenericVocabulary.txt",
        "images": len(gt), "detections": n_det, "seed": args.seed,
        "generator": "tools/benchmark_evaluation.py:synthesize_submission",
        "iou": 0.5, "mode": "e2e",
    }}
    ours = {}
    t, (res_none, info_none) = _timed(lambda: run(_tool_args(gt_zip, sub)), repeat=3)
    ours["none"] = {"seconds": round(t, 3), "steps": {k: round(v, 3) for k, v in info_none["seconds"].items()},
                    "summary": res_none.summary_lines()}

    def generic_run():
        lexicon_mod._LEXICON_CACHE.clear()  # cold: read and index the 88k words every time
        return run(_tool_args(gt_zip, sub, lexicon="generic", lexicon_path=generic, write_pred=lex_sub))

    t, (res_gen, info_gen) = _timed(generic_run, repeat=3)
    ours["generic"] = {"seconds": round(t, 3), "steps": {k: round(v, 3) for k, v in info_gen["seconds"].items()},
                       "lexicon_report": info_gen["lexicon_report"], "summary": res_gen.summary_lines()}
    cmd = [sys.executable, str(REPO / "tools" / "evaluate_predictions.py"), "--gt", str(gt_zip), "--pred", str(sub),
           "--lexicon", "generic", "--lexicon-path", str(generic)]
    t, _ = _timed(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat=3)
    ours["generic_cli_wall_seconds"] = round(t, 3)
    t, _ = _timed(lambda: subprocess.run([sys.executable, "-c", "import dld_d2.evaluation"], check=True,
                                         capture_output=True, cwd=REPO), repeat=3)
    ours["import_dld_d2_evaluation_seconds"] = round(t, 3)
    results["ours"] = ours

    # The official lexicon algorithm, timed on a sample of the words the DAVAR rule looks up.
    words = [t for items in preds.values() for _, t, _ in items
             if len(t) >= 3 and not lexicon_mod._DAVAR_SKIP.search(t)]
    lex_words = lexicon_mod.parse_word_list(generic.read_text(encoding="utf-8"))
    sample = words[: args.reference_sample]
    t, ref = _timed(lambda: [_reference_nearest(lex_words, w) for w in sample])
    mine = lexicon_mod.load_lexicon(generic)
    agree = all(r == mine.words[i] for r, (i, _) in zip(ref, mine.nearest(sample)))
    results["official_lexicon_loop"] = {
        "sample_words": len(sample), "sample_seconds": round(t, 3), "words_looked_up": len(words),
        "extrapolated_seconds": round(t / max(1, len(sample)) * len(words), 1),
        "same_words_as_ours": agree,
        "note": "pure-Python scan of the lexicon per word (DAVAR test_ic15.py algorithm), "
                "Levenshtein from rapidfuzz; extrapolated linearly from the sample",
    }

    if args.official_dir:
        off = {}
        for name, zp, ours_res in (("none", sub, res_none), ("generic", lex_sub, res_gen)):
            c = [sys.executable, "script.py", f"-g={gt_zip}", f"-s={zp}", "-iou=0.5", "-word_spotting=false"]
            t, proc = _timed(lambda: subprocess.run(c, cwd=args.official_dir, capture_output=True, text=True,
                                                    check=True), repeat=3)
            lines = [ln for ln in proc.stdout.strip().splitlines()]
            off[name] = {"seconds": round(t, 3), "summary": lines, "same_as_ours": lines == ours_res.summary_lines()}
        results["official_script"] = off
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform(), "numpy": np.__version__,
                          "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    shutil.rmtree(tmp, ignore_errors=True)
    _write(results, Path(args.out))
    print(json.dumps(results, indent=2))
    return 0


def _write(results: dict, stem: Path):
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    o, inp = results["ours"], results["input"]
    lines = [
        "# Evaluation speed",
        "",
        f"IC15 GT ({inp['images']} images) against a synthetic submission of {inp['detections']} detections "
        f"(`{inp['generator']}`, seed {inp['seed']}), E2E mode, IoU {inp['iou']}. "
        f"Machine: {results['machine']['cpus']} CPUs (shared; 1-min load average "
        f"{results['machine']['load_average_1min_at_end']} at the end), Python {results['machine']['python']}. "
        "Produced by `python tools/benchmark_evaluation.py`.",
        "",
        "| Step | ours (s) | official (s) |",
        "|---|---|---|",
    ]
    off = results.get("official_script", {})
    ol = results["official_lexicon_loop"]

    def offs(name):
        return f"{off[name]['seconds']}" if name in off else "not measured"

    lines += [
        f"| score, no lexicon (read zips + score) | {o['none']['seconds']} | {offs('none')} (script.py) |",
        f"| generic lexicon (87,944 words) on {ol['words_looked_up']} eligible words "
        f"({o['generic']['lexicon_report']['num_queries']} distinct) | {o['generic']['steps']['lexicon']} "
        f"| ≈{ol['extrapolated_seconds']} (pure-Python loop, extrapolated from {ol['sample_words']} words) |",
        f"| generic: read + lexicon + score, in process | {o['generic']['seconds']} | – |",
        f"| generic: `tools/evaluate_predictions.py` wall time | {o['generic_cli_wall_seconds']} | – |",
        f"| of which `import dld_d2.evaluation` | {o['import_dld_d2_evaluation_seconds']} | – |",
        f"| score the lexicon-corrected zip | {o['generic']['steps']['score']} | {offs('generic')} (script.py) |",
        "",
        "Times are the best of 3 runs; official script times are the wall time of `python script.py` "
        "(interpreter start included). The CLI wall time includes importing `dld_d2`, whose package "
        "`__init__` imports detectron2 and torch when they are installed.",
        "",
        "Summaries (ours):",
        "",
        "```",
        "no lexicon:", *o["none"]["summary"], "generic:", *o["generic"]["summary"],
        "```",
        "",
        f"Lexicon output equals the official algorithm's on the sample: {ol['same_words_as_ours']}.",
    ]
    if off:
        lines.append(f"Official script prints identical summaries: none {off['none']['same_as_ours']}, "
                     f"generic {off['generic']['same_as_ours']}.")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
