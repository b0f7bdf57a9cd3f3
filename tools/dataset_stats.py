#!/usr/bin/env python3
"""Statistics of a text-spotting annotation source (file, folder or zip, any supported format).

    python tools/dataset_stats.py [--format FORMAT] [--image-root DIR] [--vocab FILE] [--json] PATH

Reports images, care and don't-care instances (don't-care by reason), points per polygon, care
text lengths, out-of-vocabulary care instances and characters, and what was skipped or flagged
while loading. `--json` prints one JSON object (keys include images, care, dont_care).
"""
import argparse
import json
import logging
import sys
from collections import Counter

from dld_d2.data.formats import FORMATS, AnnotationError, load_annotations
from dld_d2.data.vocabulary import Vocabulary


def compute_stats(dicts, report, vocab):
    """The statistics as a JSON-ready dict."""
    points, lengths, oov_chars = Counter(), Counter(), Counter()
    oov_instances = 0
    for d in dicts:
        for ann in d["annotations"]:
            points[len(ann["segmentation"][0]) // 2] += 1
            if ann["iscrowd"]:
                continue
            lengths[len(ann["text"])] += 1
            missing = vocab.oov_chars(ann["text"])
            if missing:
                oov_instances += 1
                oov_chars.update(missing)
    stats = report.as_dict()
    stats.update(
        images_without_text=sum(1 for d in dicts if not d["annotations"]),
        points_per_polygon=_hist(points),
        care_text_length=_hist(lengths),
        vocabulary={"source": vocab.source, "classes": len(vocab), "hash": vocab.hash},
        oov_instances=oov_instances,
        oov_chars=dict(oov_chars.most_common()),
    )
    return stats


def _hist(counter):
    return {str(k): counter[k] for k in sorted(counter)}


def format_text(stats):
    """Human-readable report."""
    def line(name, value):
        return f"{name:<28}{value}"

    def counts(mapping):
        return ", ".join(f"{k}: {v}" for k, v in mapping.items()) or "none"

    vocab, oov_chars = stats["vocabulary"], stats["oov_chars"]
    out = [
        line("source", f"{stats['source']} [{stats['format']}]"),
        line("annotation files", stats["files"]),
        line("images", f"{stats['images']} ({stats['images_without_text']} without text)"),
        line("care instances", stats["care"]),
        line("don't-care instances",
             f"{stats['dont_care']} ({counts(stats['dont_care_by_reason'])})"),
        line("points per polygon", counts(stats["points_per_polygon"])),
        line("care text length", counts(stats["care_text_length"])),
        line("vocabulary", f"{vocab['source']} ({vocab['classes']} classes)"),
        line("out-of-vocabulary", f"{stats['oov_instances']} care instances"),
        line("out-of-vocabulary chars", counts({repr(k): n for k, n in oov_chars.items()})),
        line("skipped", counts(stats["skipped"])),
        line("flagged (kept)", counts(stats["flagged"])),
    ]
    if stats["ignored_entries"]:
        out.append(line("ignored entries", f"{stats['ignored_entries']} (not *.txt)"))
    if stats["unannotated_images"]:
        out.append(line("images without GT file", stats["unannotated_images"]))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", metavar="PATH", help="GT file, folder or zip; DAVAR JSON datalist")
    parser.add_argument("--format", choices=FORMATS, help="annotation format (default: detected)")
    parser.add_argument("--image-root", help="image folder: checks images and reads their sizes")
    parser.add_argument("--vocab", help="vocabulary file (default: the built-in 95 characters)")
    parser.add_argument("--max-text-len", type=int, default=32, help="longer texts are don't-care")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    # Individual skips go to stderr; stdout carries only the report.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        vocab = Vocabulary.from_spec(args.vocab)
        dicts, report = load_annotations(
            args.path, fmt=args.format, image_root=args.image_root, max_text_len=args.max_text_len
        )
    except (OSError, ValueError, AnnotationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stats = compute_stats(dicts, report, vocab)
    print(json.dumps(stats, ensure_ascii=False) if args.json else format_text(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
