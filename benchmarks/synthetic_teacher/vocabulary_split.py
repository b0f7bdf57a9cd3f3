"""How a spotter reads the synthetic test words of its vocabulary against the random strings.

Three words in four of the synthetic scenes come from a closed vocabulary of pseudo-words, the
rest are random strings (digits, symbols, mixed case). This reads the `text_predictions.json`
that train_net.py's evaluation writes, matches every legible test word to the prediction of
highest polygon IoU (>= 0.5), and reports per kind how many were found and how many of those
read right (case-insensitive, as the E2E protocol), with the commonest misreadings.

    python benchmarks/synthetic_teacher/vocabulary_split.py \
        output/synth_teacher_warm/inference/dld_synthetic_test/text_predictions.json
"""
import argparse
import collections
import json

from shapely.geometry import Polygon

from dld_d2.data.synthetic import SyntheticSpec
from dld_d2.data.synthetic_render import pseudo_word_vocabulary


def _polygon(flat):
    return Polygon(list(zip(flat[0::2], flat[1::2]))).buffer(0)


def vocabulary_split(predictions, records, vocabulary):
    """{kind: {"words", "found", "read", "misreadings": Counter}} for kind vocabulary/random."""
    out = {k: {"words": 0, "found": 0, "read": 0, "misreadings": collections.Counter()}
           for k in ("vocabulary", "random")}
    for r in records:
        preds = [(_polygon(p["polygon"]), p["text"]) for p in predictions.get(r["image_id"], [])]
        for a in r["annotations"]:
            if a["iscrowd"] or not a["text"]:
                continue
            s = out["vocabulary" if a["text"].lower() in vocabulary else "random"]
            s["words"] += 1
            gt = _polygon(a["segmentation"][0])
            best, text = 0.0, None
            for poly, t in preds:
                union = gt.union(poly).area
                iou = gt.intersection(poly).area / union if union > 0 else 0.0
                if iou > best:
                    best, text = iou, t
            if best < 0.5:
                continue
            s["found"] += 1
            if text.upper() == a["text"].upper():
                s["read"] += 1
            else:
                s["misreadings"][(a["text"], text)] += 1
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("predictions", help="text_predictions.json of an evaluation on a synthetic split")
    p.add_argument("--dataset", default="dld_synthetic_test",
                   help="the registered synthetic split that was evaluated (e.g. dld_synthetic_val)")
    p.add_argument("--top", type=int, default=10, help="misreadings to list per kind")
    args = p.parse_args(argv)
    with open(args.predictions, encoding="utf-8") as f:
        predictions = {p["image_id"]: p["instances"] for p in json.load(f)}
    import dld_d2  # noqa: F401  (registers the datasets)
    from detectron2.data import DatasetCatalog

    spec = SyntheticSpec()
    split = vocabulary_split(predictions, DatasetCatalog.get(args.dataset),
                             set(pseudo_word_vocabulary(spec.vocabulary_size, spec.word_length)))
    print("| words | count | found | read (of found) |\n|---|---|---|---|")
    for kind, s in split.items():
        print(f"| {kind} | {s['words']} | {100 * s['found'] / max(s['words'], 1):.1f} | "
              f"{100 * s['read'] / max(s['found'], 1):.1f} |")
    for kind, s in split.items():
        print(f"\ncommonest misreadings, {kind}: " + ", ".join(
            f"{gt}→{pred}" for (gt, pred), _ in s["misreadings"].most_common(args.top)))


if __name__ == "__main__":
    main()
