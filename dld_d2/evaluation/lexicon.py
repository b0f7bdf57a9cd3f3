"""Lexicon post-processing of predicted words (docs/evaluation.md, "Lexicons").

Two rules:
  * ``davar`` (default; DAVAR-Lab-OCR ``test_{ic13,ic15,tt}.py``): words shorter than 3
    characters or containing a digit or '+' are left alone; every other word is replaced by the
    lexicon entry at the smallest Levenshtein distance (upper-cased comparison, earliest entry on
    ties, written in its stored case). No threshold, nothing dropped.
  * ``pairs`` (AdelaiDet / DeepSolo / TESTR): the nearest ``*_new`` key (first minimum wins)
    is mapped through the pair list to its GT form; the detection is kept only if the distance
    is ≤ `max_distance` (AdelaiDet: 1, i.e. < 1.5; TESTR weak/strong: 2; None keeps all).

Nearest-word search uses rapidfuzz's C++ ``cdist`` over the de-duplicated upper-case keys;
``argmin`` returns the first minimum, which is the earliest entry in the file, exactly the
strict-``<`` scan of the official loops. Results are cached per lexicon.
"""
from __future__ import annotations

import logging
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
LEXICON_KINDS = ("none", "generic", "weak", "strong", "full")
# Both official loops start from dist_min = 100 and only accept strictly smaller distances.
_NO_MATCH_DISTANCE = 100
_DAVAR_SKIP = re.compile("[0-9+]")
_STRONG_WORDS = re.compile(r"(?:^|/)(?:new_)?voc_img_([0-9]+)\.txt$")
_STRONG_PAIRS = re.compile(r"(?:^|/)pair_voc_img_([0-9]+)\.txt$")
_CHUNK = 128  # queries per cdist call: 128 × 88k int32 ≈ 45 MB


class LexiconError(ValueError):
    """A missing or unreadable lexicon file (the message names the path)."""


class Lexicon:
    """An ordered word list (optionally with a pair list key → GT form) and a nearest-word search."""

    def __init__(self, words: Sequence[str], pairs: Optional[Mapping[str, str]] = None, name: str = ""):
        self.words = list(words)
        self.pairs = None if pairs is None else dict(pairs)
        self.name = name
        # Unique upper-case keys in first-occurrence order: the first minimum over them is the
        # earliest file entry at that distance, as the official strict-'<' loops pick.
        index: Dict[str, int] = {}
        for i, w in enumerate(self.words):
            index.setdefault(w.upper(), i)
        self._keys = list(index)
        self._first = np.fromiter(index.values(), dtype=np.int64, count=len(index))
        self._cache: Dict[str, Tuple[int, int]] = {}
        if self.pairs is not None:
            missing = sum(1 for k in self._keys if k not in self.pairs)
            if missing:  # AdelaiDet would raise KeyError; we output the key itself
                logger.warning("%s: %d lexicon word(s) have no pair entry; they map to themselves",
                               name or "lexicon", missing)

    def __len__(self):
        return len(self.words)

    def nearest(self, texts: Sequence[str], workers: int = -1) -> List[Tuple[int, int]]:
        """(index into `words`, Levenshtein distance) of the nearest entry for each text,
        compared upper-cased; (-1, 100) for an empty lexicon."""
        queries = [t.upper() for t in texts]
        todo = sorted({q for q in queries if q not in self._cache})
        if todo and not self._keys:
            self._cache.update({q: (-1, _NO_MATCH_DISTANCE) for q in todo})
        for s in range(0, len(todo) if self._keys else 0, _CHUNK):
            chunk = todo[s:s + _CHUNK]
            dist = process.cdist(chunk, self._keys, scorer=Levenshtein.distance, dtype=np.int32,
                                 workers=workers)
            best = dist.argmin(axis=1)  # first minimum
            for row, (q, b) in enumerate(zip(chunk, best)):
                self._cache[q] = (int(self._first[b]), int(dist[row, b]))
        return [self._cache[q] for q in queries]

    def output_for(self, index: int) -> str:
        """Text written for entry `index`: the stored word, or its pair-list GT form."""
        word = self.words[index]
        if self.pairs is None:
            return word
        return self.pairs.get(word.upper(), word)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
def _read_text(path: PathLike) -> str:
    p = Path(path)
    if not p.is_file():
        raise LexiconError(f"lexicon file not found: {path}")
    return p.read_bytes().decode("utf-8", errors="replace")


def parse_word_list(text: str) -> List[str]:
    """Lexicon words: one per line, stripped, empty lines skipped, order and case kept."""
    return [s for s in (ln.strip() for ln in text.splitlines()) if s]


def parse_pair_list(text: str) -> Dict[str, str]:
    """``<KEY> <GT form>`` lines → {KEY.upper(): GT form}; a repeated key: the later line wins."""
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        word = line.split(" ")[0].upper()
        pairs[word] = line[len(word) + 1:]  # AdelaiDet slices by the key's length
    return pairs


_LEXICON_CACHE: Dict[tuple, object] = {}


def _cache_key(*paths) -> tuple:
    out = []
    for p in paths:
        if p is None:
            out.append(None)
        else:
            st = Path(p).stat()
            out.append((str(Path(p).resolve()), st.st_mtime_ns, st.st_size))
    return tuple(out)


def load_lexicon(path: PathLike, pairs_path: Optional[PathLike] = None, identity_pairs: bool = False) -> Lexicon:
    """One lexicon file (generic / weak / full), optionally with its pair list. Cached by path.

    `identity_pairs` uses the pair rule with each key mapping to itself (IC13 has no pair lists).
    """
    for p in (path, pairs_path):
        if p is not None and not Path(p).is_file():
            raise LexiconError(f"lexicon file not found: {p}")
    key = ("single", identity_pairs) + _cache_key(path, pairs_path)
    if key not in _LEXICON_CACHE:
        words = parse_word_list(_read_text(path))
        pairs = parse_pair_list(_read_text(pairs_path)) if pairs_path is not None else None
        if pairs is None and identity_pairs:
            pairs = {w.upper(): w for w in words}
        _LEXICON_CACHE[key] = Lexicon(words, pairs, name=str(path))
    return _LEXICON_CACHE[key]  # type: ignore[return-value]


def _collect(path: PathLike, pattern: re.Pattern) -> Dict[str, Tuple[str, str]]:
    """{image number: (source name, text)} from a zip or a folder (searched recursively)."""
    p = Path(path)
    found: Dict[str, Tuple[str, str]] = {}

    def add(name: str, read):
        m = pattern.search(name)
        if m is None:
            return
        num = str(int(m.group(1)))
        if num in found:
            raise LexiconError(f"{path}: two lexicon files for image {num}: {found[num][0]} and {name}")
        found[num] = (name, read().decode("utf-8", errors="replace"))

    if p.is_dir():
        for f in sorted(p.rglob("*.txt")):
            add(f.relative_to(p).as_posix(), f.read_bytes)
    elif p.is_file() and zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            for name in zf.namelist():
                add(name, lambda n=name: _read_member(zf, path, n))
    elif p.is_file():
        raise LexiconError(f"{path}: not a zip file (a zip or a folder of lexicon files expected)")
    else:
        raise LexiconError(f"strong lexicon not found (zip or folder expected): {path}")
    return found


def _read_member(zf: zipfile.ZipFile, path: PathLike, name: str) -> bytes:
    """One member of a lexicon zip; a damaged member is a LexiconError naming zip and member."""
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise LexiconError(f"{path}: {name} cannot be read ({type(e).__name__}: {e})") from e


def load_strong_lexicons(path: PathLike, pairs_path: Optional[PathLike] = None,
                         identity_pairs: bool = False) -> Dict[str, Lexicon]:
    """Per-image lexicons {image number: Lexicon} from a zip or folder of ``voc_img_N.txt``
    (or ``new_voc_img_N.txt``); pairs from ``pair_voc_img_N.txt`` in `pairs_path`. Cached."""
    if not Path(path).exists():
        raise LexiconError(f"strong lexicon not found: {path}")
    key = ("strong", identity_pairs) + _cache_key(path, pairs_path)
    if key in _LEXICON_CACHE:
        return _LEXICON_CACHE[key]  # type: ignore[return-value]
    words = _collect(path, _STRONG_WORDS)
    if not words:
        raise LexiconError(f"{path}: no voc_img_<N>.txt / new_voc_img_<N>.txt files found")
    pair_texts = _collect(pairs_path, _STRONG_PAIRS) if pairs_path is not None else {}
    out = {}
    for num, (name, text) in words.items():
        w = parse_word_list(text)
        if pairs_path is not None:
            if num not in pair_texts:
                raise LexiconError(f"{pairs_path}: pair_voc_img_{num}.txt not found (needed for {name})")
            pairs = parse_pair_list(pair_texts[num][1])
        else:
            pairs = {x.upper(): x for x in w} if identity_pairs else None
        out[num] = Lexicon(w, pairs, name=f"{path}:{name}")
    _LEXICON_CACHE[key] = out
    return out


def load_lexicons(kind: str, path: Optional[PathLike] = None, pairs_path: Optional[PathLike] = None,
                  identity_pairs: bool = False):
    """Lexicon for a setting: None for 'none', a per-image dict for 'strong', else one Lexicon."""
    if kind not in LEXICON_KINDS:
        raise ValueError(f"lexicon kind must be one of {LEXICON_KINDS}, got {kind!r}")
    if kind == "none":
        return None
    if path is None:
        raise LexiconError(f"the {kind!r} lexicon needs a path")
    if kind == "strong":
        return load_strong_lexicons(path, pairs_path, identity_pairs)
    return load_lexicon(path, pairs_path, identity_pairs)


# --------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------
@dataclass
class LexiconReport:
    """Counts from :func:`apply_lexicon`."""

    num_words: int = 0
    num_skipped: int = 0  # DAVAR rule: too short or containing a digit / '+'
    num_replaced: int = 0  # text changed
    num_dropped: int = 0  # pair rule: distance above max_distance
    num_queries: int = 0  # distinct upper-case strings looked up


def image_number(key) -> str:
    """Image number used to find a per-image lexicon: 'img_12', '12', '0000012' → '12'."""
    m = re.search(r"([0-9]+)(?:\.[A-Za-z]+)?$", str(key))
    return str(int(m.group(1))) if m else str(key)


def _lexicon_for(lexicon, key) -> Optional[Lexicon]:
    if isinstance(lexicon, Lexicon) or lexicon is None:
        return lexicon
    if key in lexicon:
        return lexicon[key]
    num = image_number(key)
    if num not in lexicon:
        raise LexiconError(f"no strong lexicon for image {key!r} (voc_img_{num}.txt expected)")
    return lexicon[num]


def _with_text(item, text: str):
    if isinstance(item, Mapping):
        out = dict(item)
        out["text"] = text
        return out
    if hasattr(item, "_replace") and hasattr(item, "text"):
        return item._replace(text=text)
    return (item[0], text) + tuple(item[2:])


def _text_of(item) -> str:
    t = item["text"] if isinstance(item, Mapping) else item[1]
    return "" if t is None else str(t)


def apply_lexicon(predictions: Mapping[str, Sequence], lexicon: Union[None, Lexicon, Mapping[str, Lexicon]],
                  rule: str = "davar", max_distance: Optional[float] = 1,
                  workers: int = -1) -> Tuple[Dict[str, list], LexiconReport]:
    """Return predictions with transcriptions corrected by `lexicon` (one Lexicon, or per-image
    lexicons keyed by image number), and a report. Items keep their other fields and order.

    rule='davar': replace every eligible word (≥ 3 characters, no digit or '+'); never drop.
    rule='pairs': output the pair-list GT form of the nearest key; drop the detection when the
    distance exceeds `max_distance` (None: keep all).
    """
    if rule not in ("davar", "pairs"):
        raise ValueError(f"rule must be 'davar' or 'pairs', got {rule!r}")
    report = LexiconReport()
    if lexicon is None:
        return {k: list(v) for k, v in predictions.items()}, report

    # Batch the look-ups per lexicon (one for generic/weak/full) so cdist runs once per chunk.
    jobs: Dict[int, Tuple[Lexicon, List[Tuple[str, int, str]]]] = {}
    for key, items in predictions.items():
        lex = _lexicon_for(lexicon, key) if items else None
        for i, item in enumerate(items):
            text = _text_of(item)
            report.num_words += 1
            if rule == "davar" and (len(text) < 3 or _DAVAR_SKIP.search(text)):
                report.num_skipped += 1
                continue
            jobs.setdefault(id(lex), (lex, []))[1].append((key, i, text))

    new_text: Dict[Tuple[str, int], Optional[str]] = {}
    for lex, entries in jobs.values():
        if not len(lex) and rule == "davar":  # DAVAR: `if lexicon != []` → unchanged
            continue
        found = lex.nearest([t for _, _, t in entries], workers=workers)
        report.num_queries += len({t.upper() for _, _, t in entries})
        for (key, i, text), (idx, dist) in zip(entries, found):
            if rule == "davar":
                new_text[(key, i)] = lex.output_for(idx) if dist < _NO_MATCH_DISTANCE else " "
            else:
                word = lex.output_for(idx) if dist < _NO_MATCH_DISTANCE else ""
                keep = max_distance is None or dist <= max_distance
                new_text[(key, i)] = word if keep else None

    out: Dict[str, list] = {}
    for key, items in predictions.items():
        kept = []
        for i, item in enumerate(items):
            if (key, i) not in new_text:
                kept.append(item)
                continue
            t = new_text[(key, i)]
            if t is None:
                report.num_dropped += 1
                continue
            report.num_replaced += t != _text_of(item)
            kept.append(_with_text(item, t))
        out[key] = kept
    return out, report


__all__ = [
    "LEXICON_KINDS", "Lexicon", "LexiconError", "LexiconReport", "parse_word_list", "parse_pair_list",
    "load_lexicon", "load_strong_lexicons", "load_lexicons", "image_number", "apply_lexicon",
]
