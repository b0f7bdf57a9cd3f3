#!/usr/bin/env python3
"""Convert SynthText's gt.mat, once, into the compact file that `synthtext_train` reads.

    python tools/convert_synthtext.py [--image-root DIR] GT_MAT OUT.npz

`synthtext_train` reads $DETECTRON2_DATASETS/SynthText/synthtext_train.npz (datasets/README.md).

Reads imnames, wordBB and txt (not charBB) with scipy, and the image sizes from the image headers
under --image-root (default: gt.mat's folder) when the images are there; prints a progress line
every --every images. An image whose wordBB and txt disagree on the word count is skipped,
logged with its index and name, counted and recorded in the output (docs/data.md, "Annotation
formats").
Exit status 1, with the reason on stderr, when gt.mat cannot be read.
"""
import argparse
import logging
import os
import sys
import time

from dld_d2.data.formats import AnnotationError
from dld_d2.data.formats.common import MALFORMED_ENTRY
from dld_d2.data.formats.synthtext import convert_gt_mat


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gt_mat", metavar="GT_MAT", help="SynthText's gt.mat")
    parser.add_argument("out", metavar="OUT.npz", help="the converted file to write")
    parser.add_argument("--image-root", help="SynthText image folder (default: GT_MAT's folder)")
    parser.add_argument("--every", type=int, default=10000, help="images between progress lines")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not os.path.isfile(args.gt_mat):
        print(f"error: {args.gt_mat} not found", file=sys.stderr)
        return 1
    start = time.monotonic()

    def progress(done, total, words, report):
        print(f"{done}/{total} images ({100 * done / total:.1f} %), {words} words, "
              f"{sum(report.skipped.values())} skipped, {time.monotonic() - start:.0f} s",
              file=sys.stderr, flush=True)

    print(f"reading {args.gt_mat} (minutes for the full SynthText)", file=sys.stderr, flush=True)
    try:
        report, words = convert_gt_mat(args.gt_mat, args.out, args.image_root, progress,
                                       max(args.every, 1))
    except (OSError, ImportError, AnnotationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    skipped = report.skipped[MALFORMED_ENTRY]
    print(f"wrote {args.out}: {report.images} images, {words} words, {skipped} image(s) skipped")
    if skipped:
        print(f"first skipped: {report.examples[MALFORMED_ENTRY][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
