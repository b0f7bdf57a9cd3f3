"""How well a spotter reads, apart from how well it finds: tallies of word readings by condition
and text size, and the commonest kinds of misreading (pure Python; no detectron2).

A *reading* is one care GT word and what a model read for it. Conditions:

    gt_masked      the recognizer given the GT box and the GT polygon mask
    gt_unmasked    the recognizer given the GT box only
    detections     the model's own detections, matched to the GT by the evaluation protocol

A reading is *correct* under the end-to-end rule of the protocol (`transcription_match` on
upper-cased texts, as the E2E hmean counts it) and *exact* when the strings are identical. For
the detections, a GT word that no detection matches is *missed*; reading accuracy is over the
found ones, so that `found share × reading accuracy` is the E2E recall (docs/evaluation.md,
"Reading analysis").
"""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from rapidfuzz.distance import Levenshtein
from shapely.geometry import Polygon

from .protocol import transcription_match

CONDITIONS = ("gt_masked", "gt_unmasked", "detections")
#: Size buckets of words without a size label: the word height in image pixels below each edge.
DEFAULT_SIZE_EDGES = (32.0, 64.0)
SIZE_NAMES = ("small", "medium", "large")
ALL = "all"


def size_bucket(height: float, edges: Sequence[float] = DEFAULT_SIZE_EDGES) -> str:
    """"small", "medium" or "large": the word height against two edges (pixels)."""
    if len(edges) != 2 or not edges[0] < edges[1]:
        raise ValueError(f"size edges must be two increasing heights, got {tuple(edges)}")
    if height < edges[0]:
        return SIZE_NAMES[0]
    return SIZE_NAMES[1] if height < edges[1] else SIZE_NAMES[2]


def word_height(points) -> float:
    """Height of a word polygon: the shorter side of its minimum rotated rectangle."""
    rect = Polygon(np.asarray(points, np.float64).reshape(-1, 2)).minimum_rotated_rectangle
    if rect.geom_type != "Polygon":  # a degenerate word: a line or a point
        return 0.0
    xy = np.asarray(rect.exterior.coords)[:4]
    return float(np.linalg.norm(np.diff(np.vstack([xy, xy[:1]]), axis=0), axis=1).min())


def size_labeller(edges: Sequence[float] = DEFAULT_SIZE_EDGES) -> Callable[[Mapping, object], str]:
    """Size bucket of a word of a dataset record: the record's own `text_scale` label (the
    synthetic scenes carry one per image), else the word height in pixels against `edges`."""
    size_bucket(0.0, edges)  # check the edges now, not at the first word

    def label(record, points):
        if record.get("text_scale"):
            return str(record["text_scale"])
        return size_bucket(word_height(points), edges)

    return label


def read_correctly(gt: str, pred: str) -> bool:
    """The E2E rule of the protocol: case-insensitive, special characters at the ends optional."""
    return transcription_match(gt.upper(), pred.upper())


@dataclass
class Reading:
    """One care GT word: its text, size bucket, and the text read (None: not found)."""

    gt: str
    size: str
    pred: Optional[str]

    @property
    def found(self) -> bool:
        return self.pred is not None

    @property
    def correct(self) -> bool:
        return self.pred is not None and read_correctly(self.gt, self.pred)

    @property
    def exact(self) -> bool:
        return self.pred == self.gt


@dataclass
class Tally:
    """Counts of one condition in one size bucket."""

    words: int = 0  # care GT words
    found: int = 0  # words read at all (always all of them on GT boxes)
    correct: int = 0  # read right under the E2E rule
    exact: int = 0  # read character for character, case included

    def add(self, r: Reading):
        self.words += 1
        self.found += r.found
        self.correct += r.correct
        self.exact += r.exact

    @property
    def accuracy(self) -> float:
        """Percent of the found words read right (E2E rule)."""
        return 100.0 * self.correct / self.found if self.found else float("nan")

    @property
    def exact_accuracy(self) -> float:
        return 100.0 * self.exact / self.found if self.found else float("nan")

    @property
    def found_share(self) -> float:
        return 100.0 * self.found / self.words if self.words else float("nan")

    def as_dict(self) -> Dict[str, float]:
        return {"words": self.words, "found": self.found, "correct": self.correct,
                "exact": self.exact, "accuracy": self.accuracy,
                "exact_accuracy": self.exact_accuracy, "found_share": self.found_share}


@dataclass
class Confusions:
    """What went wrong in the misread (found, not correct) words of one condition."""

    misread: int = 0
    case_only: int = 0  # right but for letter case (the E2E rule ignores case: counted apart)
    too_short: int = 0  # fewer characters than the GT
    too_long: int = 0
    same_length: int = 0
    substitutions: Counter = field(default_factory=Counter)  # (gt char, read char) -> count
    dropped: Counter = field(default_factory=Counter)  # GT characters missing from the reading
    inserted: Counter = field(default_factory=Counter)  # characters read that are not there
    examples: List[Tuple[str, str]] = field(default_factory=list)

    def add(self, r: Reading, max_examples: int = 20):
        if r.pred is not None and r.pred != r.gt and r.pred.upper() == r.gt.upper():
            self.case_only += 1
        if not r.found or r.correct:
            return
        self.misread += 1
        gt, pred = r.gt, r.pred
        if len(pred) < len(gt):
            self.too_short += 1
        elif len(pred) > len(gt):
            self.too_long += 1
        else:
            self.same_length += 1
        # Case-insensitive edit operations: the E2E rule ignores case, so should its errors.
        g, p = gt.upper(), pred.upper()
        for op in Levenshtein.editops(g, p):
            if op.tag == "replace":
                self.substitutions[(g[op.src_pos], p[op.dest_pos])] += 1
            elif op.tag == "delete":
                self.dropped[g[op.src_pos]] += 1
            else:
                self.inserted[p[op.dest_pos]] += 1
        if len(self.examples) < max_examples:
            self.examples.append((gt, pred))

    def as_dict(self, top: int = 15) -> dict:
        return {
            "misread": self.misread, "case_only": self.case_only, "too_short": self.too_short,
            "too_long": self.too_long, "same_length": self.same_length,
            "substitutions": [[a, b, n] for (a, b), n in self.substitutions.most_common(top)],
            "dropped": [[c, n] for c, n in self.dropped.most_common(top)],
            "inserted": [[c, n] for c, n in self.inserted.most_common(top)],
            "examples": [list(e) for e in self.examples],
        }


class ReadingAnalysis:
    """Readings of a dataset under each condition, tallied by size, with their confusions."""

    def __init__(self):
        self.tallies: Dict[str, Dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
        self.confusions: Dict[str, Confusions] = defaultdict(Confusions)
        self.images = 0

    def add(self, condition: str, readings: Iterable[Reading]):
        if condition not in CONDITIONS:
            raise ValueError(f"unknown condition {condition!r}; expected one of {CONDITIONS}")
        for r in readings:
            self.tallies[condition][r.size].add(r)
            self.tallies[condition][ALL].add(r)
            self.confusions[condition].add(r)

    def sizes(self) -> List[str]:
        seen = {s for t in self.tallies.values() for s in t if s != ALL}
        return [s for s in SIZE_NAMES if s in seen] + sorted(seen - set(SIZE_NAMES)) + [ALL]

    def as_dict(self) -> dict:
        return {
            "images": self.images,
            "tallies": {c: {s: t.as_dict() for s, t in self.tallies[c].items()}
                        for c in CONDITIONS if c in self.tallies},
            "confusions": {c: self.confusions[c].as_dict() for c in CONDITIONS
                           if c in self.confusions},
        }

    def report(self, title: str = "Reading analysis", top: int = 10) -> str:
        """A markdown report: accuracy by condition and size, then the commonest misreadings."""
        sizes = self.sizes()
        lines = [f"# {title}", "", f"{self.images} images; care words only; percent. "
                 "*read*: right under the E2E rule (case-insensitive); *exact*: identical "
                 "strings; *found*: share of the words a detection matched (IoU > 0.5).", ""]
        lines.append("| condition | " + " | ".join(f"{s} read (n)" for s in sizes) + " | all exact |")
        lines.append("|---|" + "---|" * (len(sizes) + 1))
        for c in CONDITIONS:
            if c not in self.tallies:
                continue
            t = self.tallies[c]
            cells = [f"{t[s].accuracy:.1f} ({t[s].found})" for s in sizes]
            lines.append(f"| {c} | " + " | ".join(cells) + f" | {t[ALL].exact_accuracy:.1f} |")
        if "detections" in self.tallies:
            t = self.tallies["detections"]
            lines += ["", "Found by the detections: " + ", ".join(
                f"{s} {t[s].found_share:.1f} %" for s in sizes) + "."]
        for c in CONDITIONS:
            if c not in self.confusions:
                continue
            k = self.confusions[c]
            lines += ["", f"## Misreadings: {c}", "",
                      f"{k.misread} misread; of these {k.too_short} too short, {k.too_long} too "
                      f"long, {k.same_length} of the right length. {k.case_only} read right but "
                      "for letter case (not an E2E error).", ""]
            if k.substitutions:
                lines.append("Commonest substitutions (GT → read, case-insensitive): " + ", ".join(
                    f"`{a}`→`{b}` {n}" for (a, b), n in k.substitutions.most_common(top)) + ".")
            if k.dropped:
                lines.append("Commonest dropped characters: " + ", ".join(
                    f"`{ch}` {n}" for ch, n in k.dropped.most_common(top)) + ".")
            if k.inserted:
                lines.append("Commonest inserted characters: " + ", ".join(
                    f"`{ch}` {n}" for ch, n in k.inserted.most_common(top)) + ".")
            if k.examples:
                lines.append("Examples (GT → read): " + ", ".join(
                    f"`{g}`→`{p}`" for g, p in k.examples[:top]) + ".")
        return "\n".join(lines) + "\n"

    def plot(self, path: str, title: str = "Reading accuracy by text size"):
        """A bar chart of reading accuracy per size bucket and condition, written to `path`."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        sizes = self.sizes()
        conds = [c for c in CONDITIONS if c in self.tallies]
        fig, ax = plt.subplots(figsize=(7, 4))
        width = 0.8 / max(len(conds), 1)
        x = np.arange(len(sizes))
        for i, c in enumerate(conds):
            acc = [self.tallies[c][s].accuracy for s in sizes]
            bars = ax.bar(x + (i - (len(conds) - 1) / 2) * width, acc, width, label=c)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(x, [f"{s}\n(n={self.tallies[conds[0]][s].words})" for s in sizes])
        ax.set_ylabel("words read right (%)")
        ax.set_ylim(0, 105)
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
