#!/usr/bin/env python3
"""Score an ICDAR-format submission zip: a drop-in replacement for the official scripts.

    python tools/evaluate_predictions.py --gt gt-icdar2013.zip --pred preds.zip --iou 0.1
    python tools/evaluate_predictions.py --gt gt-icdar2015.zip --pred preds.zip --mode ws \\
        --lexicon generic --lexicon-path GenericVocabulary.txt

Prints the summary lines of DAVAR-Lab-OCR's `script.py` (or JSON with --json). File-name
patterns come from the GT zip's base name, as in the official script (keep the original names:
gt-icdar2013.zip, gt-icdar2015.zip, total-text-gt.zip). `--protocol auto` scores DAVAR-format GT
(``x,y,...,text``) with DAVAR's rules and AdelaiDet-format GT (``x,y,...,####text``, ``%07d.txt``)
with AdelaiDet's (docs/evaluation.md, "The DAVAR and AdelaiDet flavours").

Bad input (a missing, damaged or truncated zip, a wrongly named entry, a malformed line, a NaN,
inf or beyond-int32 coordinate), in the submission or the GT, exits with code 2 and one error
line naming the file, the zip entry and the line.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from dld_d2.evaluation.lexicon import LEXICON_KINDS, LexiconError, apply_lexicon, load_lexicons
from dld_d2.evaluation.protocol import ProtocolConfig, UnknownImageError, evaluate
from dld_d2.evaluation.submission import (
    SubmissionFormatError,
    name_patterns,
    read_gt_zip,
    read_submission_zip,
    write_submission_zip,
)

logger = logging.getLogger("evaluate_predictions")


def _max_distance(value: str):
    if value.lower() in ("none", "inf", "always"):
        return None
    return float(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", required=True, help="official GT zip (its base name selects the entry names)")
    p.add_argument("--pred", required=True, help="submission zip (img_N.txt, imgN.txt or %%07d.txt entries)")
    p.add_argument("--mode", choices=("e2e", "ws"), default="e2e", help="end-to-end or word spotting")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold (strict >); DAVAR MANGO scripts use 0.1")
    p.add_argument("--area-precision", type=float, default=None,
                   help="don't-care area-precision threshold (default: = --iou for DAVAR, 0.5 for AdelaiDet)")
    p.add_argument("--protocol", choices=("auto", "davar", "adet"), default="auto",
                   help="scoring flavour; auto follows the GT line format")
    p.add_argument("--lexicon", choices=LEXICON_KINDS, default="none", help="lexicon applied to the predictions")
    p.add_argument("--lexicon-path", help="lexicon file, or zip/folder of voc_img_N.txt for 'strong'")
    p.add_argument("--pairs", help="pair list (file, or zip/folder of pair_voc_img_N.txt for 'strong'); "
                                   "implies --lexicon-rule pairs")
    p.add_argument("--lexicon-rule", choices=("davar", "pairs"), default=None,
                   help="davar: replace eligible words, never drop (default); pairs: AdelaiDet keep-if-close "
                        "(identity pairs when --pairs is not given)")
    p.add_argument("--max-distance", type=_max_distance, default=1.0,
                   help="pairs rule: keep a detection if its distance is <= this (AdelaiDet 1, TESTR 2; "
                        "'none' keeps all)")
    p.add_argument("--write-pred", help="also write the (lexicon-corrected) submission zip here")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of the official lines")
    return p


def run(args: argparse.Namespace):
    """Load, post-process and score; returns (EvaluationResult, info dict)."""
    t0 = time.perf_counter()
    gt, line_format = read_gt_zip(args.gt)
    preds = read_submission_zip(args.pred, gt_path=args.gt, line_format=line_format)
    t_load = time.perf_counter()

    protocol = line_format if args.protocol == "auto" else args.protocol
    factory = ProtocolConfig.adet if protocol == "adet" else ProtocolConfig.davar
    extra = {} if args.area_precision is None else {"area_precision_threshold": args.area_precision}
    config = factory(args.iou, args.mode == "ws", **extra)

    info = {"gt": str(args.gt), "pred": str(args.pred), "protocol": protocol, "line_format": line_format,
            "lexicon": args.lexicon}
    if args.lexicon != "none":
        rule = args.lexicon_rule or ("pairs" if args.pairs else "davar")
        if rule == "davar" and args.pairs:
            raise LexiconError("--pairs needs --lexicon-rule pairs")
        lex = load_lexicons(args.lexicon, args.lexicon_path, args.pairs, identity_pairs=rule == "pairs")
        preds, rep = apply_lexicon(preds, lex, rule=rule, max_distance=args.max_distance)
        info.update(lexicon_rule=rule, lexicon_path=args.lexicon_path, pairs=args.pairs,
                    max_distance=args.max_distance if rule == "pairs" else None,
                    lexicon_report=vars(rep))
    t_lex = time.perf_counter()

    if args.write_pred:
        pattern = name_patterns(args.gt)[1]
        try:
            write_submission_zip(args.write_pred, preds,
                                 naming=lambda k: pattern.replace("([0-9]+)", k),
                                 invalid="keep", sort_by_score=False, line_format=line_format)
        except OSError as e:  # say which option named the file
            raise OSError(e.errno, f"--write-pred: {e.strerror}", e.filename) from e
    result = evaluate(gt, preds, config)
    t_end = time.perf_counter()
    info["seconds"] = {"load": t_load - t0, "lexicon": t_lex - t_load, "score": t_end - t_lex,
                       "total": t_end - t0}
    return result, info


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.lexicon != "none" and not args.lexicon_path:
        print(f"error: --lexicon {args.lexicon} needs --lexicon-path", file=sys.stderr)
        return 2
    try:
        result, info = run(args)
    except (FileNotFoundError, SubmissionFormatError, LexiconError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except UnknownImageError as e:
        print(f"error: {args.pred}: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that cannot be read or written, e.g. --write-pred into a folder
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**result.to_dict(), "info": info}, indent=2, ensure_ascii=False))
    else:
        if "lexicon_report" in info:
            r = info["lexicon_report"]
            print(f"lexicon {args.lexicon} ({info['lexicon_rule']} rule): {r['num_replaced']} of "
                  f"{r['num_words']} words changed, {r['num_skipped']} skipped, {r['num_dropped']} dropped",
                  file=sys.stderr)
        print("\n".join(result.summary_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
