"""Synthetic text scenes: determinism, exact polygons, size regimes, don't-care, cache, CLI."""
import dataclasses
import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import shapely
from matplotlib.path import Path as MplPath
from shapely.geometry import LineString, Polygon

from dld_d2.data import synthetic
from dld_d2.data.synthetic import (
    DEFAULT_REGIMES,
    SyntheticSpec,
    generate_split,
    load_synthetic,
    split_dir,
)
from dld_d2.data.synthetic_render import (
    INK_ALPHA,
    POLY_ALPHA,
    pseudo_word_vocabulary,
    render_image,
)

REPO = Path(__file__).resolve().parents[1]
SPEC = SyntheticSpec(num_train=12, num_test=4, seed=7)
VOCAB_FILE = REPO / "dld_d2" / "data" / "character_list.txt"
VOCAB = set(VOCAB_FILE.read_text(encoding="utf-8").rstrip("\n"))


@pytest.fixture(scope="module")
def rendered():
    return [render_image(SPEC, "train", i) for i in range(SPEC.num_train)]


def _points(ann):
    return np.asarray(ann["segmentation"][0], float).reshape(-1, 2)


def _centres(mask, x0, y0):
    iy, ix = np.nonzero(mask)
    return np.stack([ix + x0 + 0.5, iy + y0 + 0.5], axis=1)


def _side_gaps(pts, centres):
    """Distance from the ink to the top chain, end edge, bottom chain and start edge."""
    k = len(pts) // 2
    sides = [pts[:k], pts[k - 1:k + 1], pts[k:], pts[[-1, 0]]]
    ink = shapely.points(centres)
    return [float(shapely.distance(LineString(side), ink).min()) for side in sides]


def _all_anns(rendered):
    return [a for r in rendered for a in r.record["annotations"]]


def _without_paths(records):
    return [{k: v for k, v in r.items() if k != "file_name"} for r in records]


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = generate_split(str(tmp_path / "a"), "test", SPEC)
    b = generate_split(str(tmp_path / "b"), "test", SPEC)
    c = generate_split(str(tmp_path / "c"), "test", dataclasses.replace(SPEC, seed=8))
    assert len(a) == len(b) == len(c) == SPEC.num_test
    assert _without_paths(a) == _without_paths(b)
    for ra, rb, rc in zip(a, b, c):
        assert Path(ra["file_name"]).read_bytes() == Path(rb["file_name"]).read_bytes()
        assert Path(ra["file_name"]).read_bytes() != Path(rc["file_name"]).read_bytes()
    assert [r["annotations"] for r in a] != [r["annotations"] for r in c]


def test_record_schema(rendered, tmp_path):
    records = generate_split(str(tmp_path), "test", SPEC)
    for r in records:
        assert os.path.isabs(r["file_name"]) and os.path.isfile(r["file_name"])
        assert r["image_id"].startswith("test_")
        assert max(r["height"], r["width"]) == 640
    png = generate_split(str(tmp_path / "png"), "test",
                         dataclasses.replace(SPEC, num_test=1, image_format="png"))
    image = cv2.imread(png[0]["file_name"])
    assert png[0]["file_name"].endswith(".png") and image.shape == (
        png[0]["height"], png[0]["width"], 3)
    for r in [x.record for x in rendered] + records:
        assert r["text_scale"] in {g.name for g in DEFAULT_REGIMES}
        for ann in r["annotations"]:
            assert ann["bbox_mode"] == 0 and ann["category_id"] == 0
            assert ann["iscrowd"] in (0, 1) and isinstance(ann["text"], str)
            assert len(ann["segmentation"]) == 1 and len(ann["segmentation"][0]) % 2 == 0


def test_polygons_enclose_the_ink_tightly(rendered):
    n_care = 0
    for r in rendered:
        H, W = r.record["height"], r.record["width"]
        shapes = []
        for ann, (x0, y0, alpha) in zip(r.record["annotations"], r.alphas):
            pts = _points(ann)
            xs, ys = pts[:, 0], pts[:, 1]
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max(), ys.max()]
            assert xs.min() >= 0 and ys.min() >= 0 and xs.max() <= W and ys.max() <= H
            poly = Polygon(pts)
            assert poly.is_valid
            shapes.append(poly)
            if ann["iscrowd"]:
                continue
            n_care += 1
            ink = _centres(alpha >= INK_ALPHA, x0, y0)
            assert len(ink) > 0
            assert MplPath(pts).contains_points(ink).mean() >= 0.99
            # tight: the glyphs (anti-aliased edges included) come within 2.5 px of each side
            assert max(_side_gaps(pts, _centres(alpha >= POLY_ALPHA, x0, y0))) < 2.5
        for i in range(len(shapes)):
            for j in range(i + 1, len(shapes)):
                assert not shapes[i].intersects(shapes[j])
    assert n_care > 50


def test_straight_quads_curved_polygons_and_dont_care(rendered):
    anns = _all_anns(rendered)
    sizes = [len(a["segmentation"][0]) // 2 for a in anns]
    assert set(sizes) - {4} and all(n == 4 or 10 <= n <= 20 for n in sizes)
    assert sum(n >= 10 for n in sizes) >= 5  # curved instances
    crowd = [a for a in anns if a["iscrowd"]]
    assert len(crowd) >= 3 and all(a["text"] == "###" for a in crowd)
    assert all(a["text"] != "###" for a in anns if not a["iscrowd"])
    assert 0.02 <= len(crowd) / len(anns) <= 0.15


def test_texts_in_vocabulary(rendered):
    texts = [a["text"] for a in _all_anns(rendered) if not a["iscrowd"]]
    assert texts
    for t in texts:
        assert set(t) <= VOCAB and 2 <= len(t) <= 32 and t == t.strip()
    assert np.mean([t.isalnum() for t in texts]) > 0.6  # mostly letters and digits


def test_most_words_come_from_one_pseudo_word_vocabulary_shared_by_the_splits(rendered):
    vocab = pseudo_word_vocabulary(SPEC.vocabulary_size, SPEC.word_length)
    assert len(set(vocab)) == len(vocab) == SPEC.vocabulary_size
    assert all(w.isalpha() and w.islower() and 2 <= len(w) <= 12 for w in vocab)
    known = set(vocab)

    def share(records):
        texts = [a["text"].lower() for r in records for a in r["annotations"] if not a["iscrowd"]]
        return np.mean([t in known for t in texts]), len(texts)

    train_share, n = share([r.record for r in rendered])
    assert n > 100 and 0.6 < train_share < 0.9  # p_vocabulary = 0.75, the rest random strings
    other = dataclasses.replace(SPEC, seed=SPEC.seed + 1)
    test_share, _ = share([render_image(other, "test", i).record for i in range(3)])
    assert test_share > 0.6  # another seed and split, the same vocabulary
    none = dataclasses.replace(SPEC, p_vocabulary=0.0)
    assert share([render_image(none, "train", i).record for i in range(3)])[0] < 0.05


def _quad_heights(spec, n):
    heights, char_heights = [], []
    for i in range(n):
        r = render_image(spec, "train", i).record
        char_heights.append(r["char_height"])
        for a in r["annotations"]:
            p = _points(a)
            if not a["iscrowd"] and len(p) == 4:
                heights.append(np.linalg.norm(p[0] - p[3]))
    return np.median(heights), char_heights


def test_size_regimes_differ():
    regime = {g.name: g for g in DEFAULT_REGIMES}
    only = {k: dataclasses.replace(SPEC, regimes=(dataclasses.replace(g, prob=1.0),))
            for k, g in regime.items() if k in ("small", "large")}
    small_h, small_c = _quad_heights(only["small"], 3)
    large_h, large_c = _quad_heights(only["large"], 4)
    assert large_h > 2 * small_h  # cap-height bands 28-36 vs 64-110 px
    lo, hi = regime["small"].char_height
    assert all(lo <= c <= hi for c in small_c)
    lo, hi = regime["large"].char_height
    assert all(lo <= c <= hi for c in large_c)


def test_mixed_regimes_recorded(rendered):
    for r in rendered:
        g = {x.name: x for x in DEFAULT_REGIMES}[r.record["text_scale"]]
        assert g.char_height[0] <= r.record["char_height"] <= g.char_height[1]
    assert len({r.record["text_scale"] for r in rendered}) >= 2


def test_cache_reused_and_spec_change_uses_new_folder(tmp_path, monkeypatch):
    root = str(tmp_path)
    first = load_synthetic("test", root=root, spec=SPEC)
    index = json.loads(Path(split_dir(root, "test", SPEC), "index.json").read_text())
    assert index["generator_version"] == synthetic.GENERATOR_VERSION
    assert index["spec"] == json.loads(json.dumps(SPEC.to_dict()))

    def no_build(*args, **kwargs):
        raise AssertionError("regenerated a cached split")

    monkeypatch.setattr(synthetic, "_build", no_build)
    assert load_synthetic("test", root=root, spec=SPEC) == first
    other = dataclasses.replace(SPEC, p_curved=0.5)
    assert split_dir(root, "test", other) != split_dir(root, "test", SPEC)
    with pytest.raises(AssertionError, match="regenerated"):
        load_synthetic("test", root=root, spec=other)
    # a count change keeps the content folder (same images) but uses another split folder
    more = dataclasses.replace(SPEC, num_test=5)
    assert os.path.dirname(split_dir(root, "test", more)) == os.path.dirname(
        split_dir(root, "test", SPEC))
    assert split_dir(root, "test", more) != split_dir(root, "test", SPEC)


def _load_in_child(root, spec, out_path, barrier):
    build = synthetic._build

    def counting_build(final, *args, **kwargs):  # a mark per build, to count the builders
        Path(root, f"built-{os.getpid()}").touch()
        build(final, *args, **kwargs)

    synthetic._build = counting_build
    barrier.wait(60)  # both children call load_synthetic at the same moment
    records = load_synthetic("test", root=root, spec=spec)
    Path(out_path).write_text(json.dumps(records))


def test_concurrent_loads_build_one_consistent_cache(tmp_path):
    ctx = mp.get_context("spawn")
    root = tmp_path / "cache"
    root.mkdir()
    outs = [tmp_path / f"out{k}.json" for k in range(2)]
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_load_in_child, args=(str(root), SPEC, str(o), barrier))
             for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    a, b = (json.loads(o.read_text()) for o in outs)
    assert a == b and len(a) == SPEC.num_test
    assert len(list(root.glob("built-*"))) == 1  # one builder; the other waited, then read
    folder = split_dir(str(root), "test", SPEC)
    siblings = sorted(os.listdir(os.path.dirname(folder)))
    assert siblings == ["test-4", "test-4.lock"]  # no temporary folders left behind
    assert sorted(os.listdir(os.path.join(folder, "images"))) == [
        f"test_{i:06d}.jpg" for i in range(SPEC.num_test)]
    assert load_synthetic("test", root=str(root), spec=SPEC) == a


def test_parallel_generation_matches_serial(tmp_path):
    serial = generate_split(str(tmp_path / "s"), "test", SPEC)
    parallel = generate_split(str(tmp_path / "p"), "test", SPEC, num_workers=2)
    assert _without_paths(serial) == _without_paths(parallel)
    for rs, rp in zip(serial, parallel):
        assert Path(rs["file_name"]).read_bytes() == Path(rp["file_name"]).read_bytes()


def test_cli_generates_and_draws_samples(tmp_path):
    out = tmp_path / "samples"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(
        [sys.executable, "tools/generate_synthetic.py", "--root", str(tmp_path / "cache"),
         "--num-train", "2", "--num-test", "1", "--seed", "3", "--show", "2", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    shown = [line for line in res.stdout.splitlines() if line.endswith(".png")]
    assert len(shown) == 2 and all(os.path.isfile(p) for p in shown)
    assert "train: 2 images" in res.stdout and "test: 1 images" in res.stdout


@pytest.mark.detectron2
def test_validation_split_is_the_test_generator_with_another_seed():
    import dld_d2  # noqa: F401
    from detectron2.data import MetadataCatalog

    from dld_d2.data.synthetic import SyntheticSpec, render_image

    assert MetadataCatalog.get("dld_synthetic_val").synthetic_split == "test"
    val = render_image(SyntheticSpec(seed=1), "test", 0).record
    test = render_image(SyntheticSpec(), "test", 0).record
    # Other scenes, not a copy of the test split's.
    assert [a["text"] for a in val["annotations"]] != [a["text"] for a in test["annotations"]]
