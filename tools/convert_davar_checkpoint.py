#!/usr/bin/env python3
"""Convert a DAVAR-Lab-OCR (mmdetection 2.x) checkpoint into a dld_d2 checkpoint.

    python tools/convert_davar_checkpoint.py IN.pth OUT.pth [--kind auto|spotter|dld|mmdet-coco]
        [--config-file CONFIG] [KEY VALUE ...]

Kinds (auto: told apart by the key names):
  spotter     DAVAR's Mask R-CNN text spotter (mask_rcnn_spot; the DLD teacher
              mask_rcnn_pretrain_teacher.py) -> a TextSpotter (default config configs/teacher.yaml)
  dld         DAVAR's DLD model (stu./tea./policy.) -> a DLDSpotter (configs/distill.yaml)
  mmdet-coco  mmdetection's Mask R-CNN R-50-FPN COCO checkpoint (DAVAR's step-1 initialisation)
              -> the class-agnostic part of a TextSpotter (configs/teacher.yaml): a partial
              initialisation; the class-specific predictors and the recognition branch are not
              in it
KEY VALUE pairs override the config (e.g. MODEL.TEXT_HEAD.VOCABULARY).

The input is read with torch's weights-only loader (mmcv files: `state_dict` and `meta`). Every
source tensor is mapped or reported as dropped with a reason, every entry of the model built
from the config is filled (mmdet-coco: all but the listed ones), names and shapes are checked,
and OUT (`{"model": state_dict, ...}`) is loaded back through dld_d2's checkpointer before the
tool reports success. Use it as

    python train_net.py --config-file configs/teacher.yaml --eval-only MODEL.WEIGHTS OUT.pth
    python train_net.py --config-file configs/distill.yaml --eval-only MODEL.WEIGHTS OUT.pth
    python train_net.py --config-file configs/distill.yaml MODEL.DLD.TEACHER_WEIGHTS OUT.pth
    python train_net.py --config-file configs/pretrain.yaml MODEL.WEIGHTS OUT.pth  (mmdet-coco)

Exit status 1, with the reason (file and key) on stderr, when IN cannot be converted.
"""

import argparse
import logging
import os
import shlex
import sys

DEFAULT_CONFIGS = {
    "spotter": "configs/teacher.yaml",
    "mmdet-coco": "configs/teacher.yaml",
    "dld": "configs/distill.yaml",
}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ToolError(Exception):
    """A failure to report in one line (no traceback)."""


def _build_target(config_file, opts):
    """(cfg, model) of the dld_d2 model the checkpoint is converted for, on the CPU."""
    from detectron2.modeling import build_model

    import dld_d2.modeling  # noqa: F401  (registers the architectures)
    from dld_d2.config import get_cfg

    if not os.path.isfile(config_file):
        raise ToolError(f"--config-file {config_file}: no such file")
    cfg = get_cfg()
    try:
        cfg.merge_from_file(config_file)
        cfg.merge_from_list(list(opts))
    except (KeyError, ValueError, AssertionError, TypeError) as e:
        raise ToolError(f"config {config_file} {' '.join(opts)}: {e}") from None
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.DLD.TEACHER_WEIGHTS = ""
    cfg.freeze()
    try:
        model = build_model(cfg)
    except (KeyError, ValueError, AssertionError) as e:
        raise ToolError(f"cannot build the model of {config_file}: {e}") from None
    return cfg, model


def _save(path, data):
    import torch

    from dld_d2.checkpoint.checkpointer import _atomic_write

    _atomic_write(path, lambda f: torch.save(data, f))


def convert(
    in_path, out_path, kind="auto", config_file=None, opts=(), check_config=True, log=print
):
    """Convert `in_path` into `out_path`; returns the ConversionResult. ToolError / ConversionError
    / CheckpointError on bad input."""
    from dld_d2.checkpoint.checkpointer import CheckpointError, TextSpotterCheckpointer
    from dld_d2.checkpoint.davar_conversion import (
        convert_state_dict,
        detect_kind,
        load_checkpoint_file,
        reference_config_mismatches,
    )

    source = load_checkpoint_file(in_path)
    if kind == "auto":
        kind = detect_kind(source, in_path)
    given_config = config_file
    config_file = config_file or os.path.join(REPO, DEFAULT_CONFIGS[kind])
    cfg, model = _build_target(config_file, opts)
    mismatches = reference_config_mismatches(cfg)
    if mismatches and check_config:
        raise ToolError(
            f"config {config_file}: the converted model would not compute what the reference "
            f"does: {'; '.join(mismatches)} (--ignore-config-mismatch to convert anyway)"
        )
    for m in mismatches:
        log(f"warning: {m}")
    result = convert_state_dict(source, model.state_dict(), kind, in_path)
    log(result.summary())
    _save(
        out_path,
        {
            "model": result.state_dict,
            "__author__": "DAVAR-Lab-OCR, converted by tools/convert_davar_checkpoint.py",
            "davar_conversion": {
                "source": os.path.abspath(in_path),
                "kind": result.kind,
                "config": config_file,
                "dropped": dict(result.dropped),
                "left_at_initialisation": sorted(result.unfilled),
            },
        },
    )
    # Load it back the way train_net.py --eval-only (or a training initialisation) does.
    # (Its log lines would only repeat the summary's "left at initialisation".)
    require = "any" if result.kind == "mmdet-coco" else "complete"
    logging.disable(logging.WARNING)
    try:
        TextSpotterCheckpointer(model, require=require, purpose=out_path).load(out_path)
    except (CheckpointError, ValueError) as e:
        os.remove(out_path)
        raise ToolError(
            f"the converted checkpoint does not load into the model of {config_file} "
            f"({e}); {out_path} removed"
        ) from None
    finally:
        logging.disable(logging.NOTSET)
    shown = os.path.relpath(config_file, REPO) if config_file.startswith(REPO) else config_file
    # The overrides the model was built with go into the command that uses it.
    extra = "".join(f"{shlex.quote(str(o))} " for o in opts)
    use = {
        "spotter": f"--config-file {shown} --eval-only {extra}MODEL.WEIGHTS",
        "dld": f"--config-file {shown} --eval-only {extra}MODEL.WEIGHTS",
        # A COCO detector starts the pretraining (configs/pretrain.yaml unless a config was given).
        "mmdet-coco": f"--config-file {shown if given_config else 'configs/pretrain.yaml'} "
        f"{extra}MODEL.WEIGHTS",
    }[result.kind]
    log(
        f"wrote {out_path}: {len(result.state_dict)} entries; use: python train_net.py {use} {out_path}"
    )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("input", metavar="IN.pth", help="the DAVAR / mmdetection checkpoint")
    parser.add_argument("output", metavar="OUT.pth", help="the dld_d2 checkpoint to write")
    parser.add_argument("--kind", choices=("auto", "spotter", "dld", "mmdet-coco"), default="auto")
    parser.add_argument(
        "--config-file",
        default=None,
        help="dld_d2 config of the target model (default: configs/teacher.yaml, "
        "configs/distill.yaml for dld)",
    )
    parser.add_argument(
        "--ignore-config-mismatch",
        action="store_true",
        help="convert even where the config differs from the reference's "
        "(stride placement, anchors, box coding, pixel statistics)",
    )
    parser.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides")
    # Intermixed: the options may follow IN OUT (and the overrides), as the usage shows.
    args = parser.parse_intermixed_args(argv)

    from dld_d2.checkpoint.checkpointer import CheckpointError
    from dld_d2.checkpoint.davar_conversion import ConversionError

    if os.path.abspath(args.input) == os.path.abspath(args.output):
        print(
            f"error: OUT.pth is IN.pth ({args.input}); write the conversion elsewhere",
            file=sys.stderr,
        )
        return 1
    try:
        convert(
            args.input,
            args.output,
            args.kind,
            args.config_file,
            args.opts,
            check_config=not args.ignore_config_mismatch,
        )
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        if len(e.problems) > 1:
            print("all findings:", file=sys.stderr)
            for p in e.problems[:40]:
                print(f"  {p}", file=sys.stderr)
            if len(e.problems) > 40:
                print(f"  ... ({len(e.problems) - 40} more)", file=sys.stderr)
        return 1
    except (ToolError, CheckpointError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
