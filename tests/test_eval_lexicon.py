"""Lexicon post-processing: tie-breaking, both rules, brute-force equivalence, the official rows
(docs/evaluation.md, "Parity with the official scripts")."""
import random
import zipfile

import pytest

from dld_d2.evaluation.lexicon import (
    Lexicon,
    LexiconError,
    apply_lexicon,
    image_number,
    load_lexicon,
    load_lexicons,
    load_strong_lexicons,
    parse_pair_list,
    parse_word_list,
)
from dld_d2.evaluation.protocol import ProtocolConfig, evaluate

SQ = [0, 0, 10, 0, 10, 10, 0, 10]


def levenshtein(a, b):
    """Plain dynamic-programming edit distance (reference for the tests)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def official_scan(words, text):
    """The official loop: strictly smaller distance wins, starting from 100."""
    best, dmin = " ", 100
    for w in words:
        d = levenshtein(text.upper(), w.upper())
        if d < dmin:
            best, dmin = w, d
    return best, dmin


# ------------------------------------------------------------------------------------------
# Nearest word and ties
# ------------------------------------------------------------------------------------------
def test_ties_first_minimum_wins():
    assert Lexicon(["ABD", "ABC"]).nearest(["ABX"]) == [(0, 1)]
    assert Lexicon(["ABC", "ABD"]).nearest(["ABX"]) == [(0, 1)]
    lex = Lexicon(["ZZZZ", "Cafe", "CAFE", "CAFF"])  # same key in two cases: the first one
    assert lex.nearest(["cafe", "CAFX"]) == [(1, 0), (1, 1)]
    assert lex.output_for(1) == "Cafe"  # stored case is written


def test_nearest_matches_brute_force_on_random_data():
    rng = random.Random(0)
    alphabet = "ABCDE"
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(300)]
    queries = ["".join(rng.choice(alphabet + "x") for _ in range(rng.randint(0, 7))) for _ in range(200)]
    lex = Lexicon(words)
    for q, (idx, dist) in zip(queries, lex.nearest(queries)):
        best, dmin = official_scan(words, q)
        assert (words[idx], dist) == (best, dmin)
    assert lex.nearest(queries[:3]) == lex.nearest(queries[:3])  # cached path


def test_empty_lexicon():
    assert Lexicon([]).nearest(["ABC"]) == [(-1, 100)]
    preds = {"1": [(SQ, "HELLO")]}
    assert apply_lexicon(preds, Lexicon([]))[0] == preds


# ------------------------------------------------------------------------------------------
# DAVAR rule
# ------------------------------------------------------------------------------------------
def test_davar_rule_filters_and_never_drops():
    lex = Lexicon(["HELLO", "WORLD", "Zoo"])
    preds = {"1": [(SQ, "HELLQ", 0.9), (SQ, "ab", 0.8), (SQ, "B52s", 0.7), (SQ, "A+B", 0.6),
                   (SQ, "zoa", 0.5), (SQ, "", 0.4), (SQ, "qqqqqqqqq", 0.3)]}
    out, rep = apply_lexicon(preds, lex)
    assert [t for _, t, _ in out["1"]] == ["HELLO", "ab", "B52s", "A+B", "Zoo", "", "HELLO"]
    assert [s for _, _, s in out["1"]] == [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]  # other fields kept
    assert (rep.num_words, rep.num_skipped, rep.num_replaced, rep.num_dropped) == (7, 4, 3, 0)


def test_davar_rule_no_match_below_100_gives_space():
    out, _ = apply_lexicon({"1": [(SQ, "X" * 120)]}, Lexicon(["ABC"]))
    assert out["1"][0][1] == " "  # the official loop starts at dist_min = 100


def test_davar_rule_brute_force_on_the_ic13_generic_lexicon(eval_data):
    """A sample of MANGO words through the 87k-word IC13 generic list vs the official loop."""
    path = eval_data / "lexicons" / "icdar2013" / "GenericVocabulary.txt"
    words = parse_word_list(path.read_text(encoding="utf-8"))
    lex = load_lexicon(path)
    sample = ["BEWARE", "CONTRACTR", "Hrsg", "lnternational", "qx"]
    got = [lex.words[i] for i, _ in lex.nearest(sample)]
    assert got == [official_scan_fast(words, w) for w in sample]


def official_scan_fast(words, text):
    from rapidfuzz.distance import Levenshtein

    best, dmin = " ", 100
    for w in words:
        d = Levenshtein.distance(text.upper(), w.upper())
        if d < dmin:
            best, dmin = w, d
    return best


# ------------------------------------------------------------------------------------------
# Pair-list rule
# ------------------------------------------------------------------------------------------
def test_pair_list_parsing():
    pairs = parse_pair_list("ITS IT'S\r\nTMLEWIN TM LEWIN\nbens BEN'S\nITS ITS\n\nAGEING \ufeffAGEING\n")
    assert pairs == {"ITS": "ITS", "TMLEWIN": "TM LEWIN", "BENS": "BEN'S", "AGEING": "\ufeffAGEING"}


def test_pair_rule_outputs_gt_form_and_drops_far_words():
    lex = Lexicon(["TMLEWIN", "BENS", "ITS"], {"TMLEWIN": "TM LEWIN", "BENS": "BEN'S", "ITS": "IT'S"})
    preds = {"7": [(SQ, "TMLEWlN"), (SQ, "bens"), (SQ, "XYZW"), (SQ, "IT")]}
    out, rep = apply_lexicon(preds, lex, rule="pairs", max_distance=1)
    assert [t for _, t in out["7"]] == ["TM LEWIN", "BEN'S", "IT'S"]  # no length/digit filter
    assert rep.num_dropped == 1
    out, _ = apply_lexicon(preds, lex, rule="pairs", max_distance=None)  # TESTR: always keep
    assert [t for _, t in out["7"]] == ["TM LEWIN", "BEN'S", "BEN'S", "IT'S"]  # XYZW: BENS first at 4


def test_pair_rule_brute_force(eval_data):
    d = eval_data / "lexicons" / "icdar2015" / "pairs_format"
    lex = load_lexicon(d / "ch4_test_vocabulary_new.txt", d / "ch4_test_vocabulary_pair_list.txt")
    keys = [ln.strip() for ln in (d / "ch4_test_vocabulary_new.txt").read_text().splitlines()]
    pairs = parse_pair_list((d / "ch4_test_vocabulary_pair_list.txt").read_text())
    words = ["STRAPS", "beanstro", "CAFE", "marche", "qwertyuiop", "B1-150-15"]
    out, _ = apply_lexicon({"1": [(SQ, w) for w in words]}, lex, rule="pairs", max_distance=None)
    expected = []
    for w in words:
        best, dmin = " ", 100
        for k in keys:  # AdelaiDet's find_match_word
            dd = levenshtein(w.upper(), k.upper())
            if dd < dmin:
                dmin, best = dd, pairs[k.upper()]
        expected.append(best)
    assert [t for _, t in out["1"]] == expected


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------
def test_strong_lexicons_from_zip_and_folder(eval_data, tmp_path):
    z = eval_data / "lexicons" / "icdar2013" / "strong_lexicon.zip"
    from_zip = load_strong_lexicons(z)
    assert len(from_zip) == 233 and all(len(v) == 100 for v in from_zip.values())
    with zipfile.ZipFile(z) as zf:
        zf.extractall(tmp_path)
    from_dir = load_strong_lexicons(tmp_path)
    assert from_dir.keys() == from_zip.keys() and from_dir["12"].words == from_zip["12"].words
    assert not any(w != w.strip() for w in from_zip["1"].words)  # CRLF handled


def test_damaged_strong_lexicon_zips_are_named(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("voc_img_1.txt", "HELLO\n" * 200)
        zf.writestr("voc_img_2.txt", "WORLD\n" * 200)
    assert load_strong_lexicons(good)["2"].words == ["WORLD"] * 200
    # A member's compressed bytes overwritten: the central directory still says "zip".
    data = bytearray(good.read_bytes())
    start = data.index(b"voc_img_1.txt") + len("voc_img_1.txt")
    data[start:start + 8] = b"\xff" * 8
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    with pytest.raises(LexiconError, match=r"broken.zip: voc_img_1.txt cannot be read \("):
        load_strong_lexicons(broken)
    not_zip = tmp_path / "lexicon.zip"
    not_zip.write_bytes(b"not a zip at all")
    with pytest.raises(LexiconError, match="lexicon.zip: not a zip file"):
        load_strong_lexicons(not_zip)


def test_strong_pairs_and_key_normalisation(eval_data):
    d = eval_data / "lexicons" / "icdar2015" / "pairs_format" / "new_strong_lexicon"
    lex = load_lexicons("strong", d, d)
    assert len(lex) == 500 and lex["1"].pairs is not None
    assert [image_number(k) for k in ("img_12", "12", "0000012", "img12.txt")] == ["12"] * 4
    preds = {"img_1": [(SQ, "x")], "0000002": [(SQ, "y")]}
    out, _ = apply_lexicon(preds, lex, rule="pairs", max_distance=None)
    assert set(out) == {"img_1", "0000002"}
    with pytest.raises(LexiconError, match="voc_img_999"):
        apply_lexicon({"999": [(SQ, "x")]}, lex)


def test_missing_lexicon_files_are_named(tmp_path):
    with pytest.raises(LexiconError, match="nope.txt"):
        load_lexicons("generic", tmp_path / "nope.txt")
    with pytest.raises(LexiconError, match="strong lexicon not found"):
        load_lexicons("strong", tmp_path / "missing")
    with pytest.raises(LexiconError, match="no voc_img"):
        load_lexicons("strong", tmp_path)
    with pytest.raises(ValueError, match="lexicon kind"):
        load_lexicons("huge", tmp_path)
    assert load_lexicons("none") is None


# ------------------------------------------------------------------------------------------
# Lexicon rows of docs/evaluation.md, "Parity with the official scripts" (MANGO R50 on IC13, iou 0.1)
# ------------------------------------------------------------------------------------------


LEX13 = {"generic": "GenericVocabulary.txt", "weak": "ch2_test_vocabulary.txt", "strong": "strong_lexicon.zip"}


def r4(d):
    return tuple(round(d[k], 4) for k in ("recall", "precision", "hmean"))


@pytest.mark.parametrize("kind, e2e, ws_h", [
    ("generic", (0.8244, 0.8562, 0.8400), 0.8726),
    ("weak", (0.8713, 0.9049, 0.8878), 0.9310),
    ("strong", (0.8779, 0.9117, 0.8944), 0.9381),
])
def test_davar_rule_rows(eval_data, ic13, kind, e2e, ws_h):
    gt, preds = ic13
    lex = load_lexicons(kind, eval_data / "lexicons" / "icdar2013" / LEX13[kind])
    corrected, rep = apply_lexicon(preds, lex)
    assert rep.num_dropped == 0 and sum(len(v) for v in corrected.values()) == 1038
    r = evaluate(gt, corrected, ProtocolConfig.davar(0.1))
    assert r4(r.detection) == (0.9269, 0.9626, 0.9444) and r4(r.spotting) == e2e
    w = evaluate(gt, corrected, ProtocolConfig.davar(0.1, True))
    assert w.num_gt_care == 856 and r4(w.detection) == (0.9357, 0.9721, 0.9536)
    assert round(w.spotting["hmean"], 4) == ws_h


@pytest.mark.parametrize("kind, max_d, det, spot", [
    ("weak", 1, (0.8288, 0.9832, 0.8994), (0.8015, 0.9508, 0.8698)),
    ("strong", 1, (0.8244, 0.9921, 0.9005), (0.8048, 0.9685, 0.8791)),
    ("weak", 2, None, (None, None, 0.8782)),
    ("strong", 2, None, (None, None, 0.8853)),
])
def test_pair_rule_rows_identity_pairs(eval_data, ic13, kind, max_d, det, spot):
    gt, preds = ic13
    lex = load_lexicons(kind, eval_data / "lexicons" / "icdar2013" / LEX13[kind], identity_pairs=True)
    corrected, _ = apply_lexicon(preds, lex, rule="pairs", max_distance=max_d)
    r = evaluate(gt, corrected, ProtocolConfig.davar(0.1))
    assert r.num_gt_care == 917
    if det is not None:
        assert r4(r.detection) == det
    got = r4(r.spotting)
    assert all(e is None or g == e for g, e in zip(got, spot))
