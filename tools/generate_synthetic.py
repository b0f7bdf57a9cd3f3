#!/usr/bin/env python3
"""Generate (or reuse) the built-in synthetic text scenes, and optionally draw a few samples.

    python tools/generate_synthetic.py                          # default cache, 1000 + 100 images
    python tools/generate_synthetic.py --num-train 200 --num-test 20 --seed 1 --workers 2
    python tools/generate_synthetic.py --show 4 --out output/synthetic_samples

The cache lives in --root (default: $DLD_D2_CACHE/synthetic or ~/.cache/dld_d2/synthetic);
a split that already exists for the same spec is reused, not regenerated. --show K writes K
train images with their polygons (green: legible, red: don't-care) and texts drawn.
"""
from __future__ import annotations

import argparse
import collections
import os
import time

import cv2
import numpy as np

from dld_d2.data.synthetic import SyntheticSpec, default_root, generate_split, split_dir


def parse_args(argv=None):
    defaults = SyntheticSpec()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=None, help="cache folder (default: %s)" % default_root())
    p.add_argument("--num-train", type=int, default=defaults.num_train)
    p.add_argument("--num-test", type=int, default=defaults.num_test)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--workers", type=int, default=0, help="render in this many processes")
    p.add_argument("--show", type=int, default=0, metavar="K", help="draw K train samples")
    p.add_argument("--out", default="output/synthetic_samples", help="folder for --show")
    return p.parse_args(argv)


def draw_sample(record: dict) -> np.ndarray:
    """BGR image with the record's polygons and texts drawn."""
    img = cv2.imread(record["file_name"], cv2.IMREAD_COLOR)
    for ann in record["annotations"]:
        pts = np.asarray(ann["segmentation"][0], float).reshape(-1, 2)
        color = (0, 0, 255) if ann["iscrowd"] else (0, 220, 0)
        q = np.round((pts - 0.5) * 16).astype(np.int32)  # continuous -> pixel index, 4 bits
        cv2.polylines(img, [q], True, color, 1, cv2.LINE_AA, shift=4)
        x, y = int(pts[0, 0]), max(int(pts[0, 1]) - 3, 10)
        (tw, th), _ = cv2.getTextSize(ann["text"], cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        cv2.rectangle(img, (x, y - th - 2), (x + tw, y + 2), (0, 0, 0), -1)
        cv2.putText(img, ann["text"], (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
    scale = f"{record['text_scale']} (char height {record['char_height']:.0f} px)"
    cv2.putText(img, scale, (5, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    return img


def summarize(split: str, records: list) -> str:
    anns = [a for r in records for a in r["annotations"]]
    curved = sum(len(a["segmentation"][0]) > 8 for a in anns)
    crowd = sum(a["iscrowd"] for a in anns)
    regimes = collections.Counter(r["text_scale"] for r in records)
    per_image = len(anns) / max(len(records), 1)
    return (f"{split}: {len(records)} images, {len(anns)} instances ({per_image:.1f}/image, "
            f"{curved} curved, {crowd} don't-care), regimes {dict(sorted(regimes.items()))}")


def main(argv=None):
    args = parse_args(argv)
    spec = SyntheticSpec(num_train=args.num_train, num_test=args.num_test, seed=args.seed)
    root = args.root or default_root()
    data = {}
    for split in ("train", "test"):
        start = time.perf_counter()
        data[split] = generate_split(root, split, spec, num_workers=args.workers)
        print(f"{split_dir(root, split, spec)}  [{time.perf_counter() - start:.1f} s]")
        print("  " + summarize(split, data[split]))
    if args.show > 0:
        os.makedirs(args.out, exist_ok=True)
        for record in data["train"][: args.show]:
            path = os.path.join(args.out, f"{record['image_id']}.png")
            cv2.imwrite(path, draw_sample(record))
            print(path)


if __name__ == "__main__":
    main()
