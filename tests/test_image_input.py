"""Bad and unusual image inputs: dld_d2.data.image_io, the mapper and tools/demo.py.

image_io tests run without detectron2; those comparing with Detectron2's reader, and those of
the mapper and the demo, are marked `detectron2`.
"""
import io
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from dld_d2.data.image_io import UnreadableImageError, read_image
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]
QUICK = "configs/quick_schedules/teacher_instant_test.yaml"
d2 = pytest.mark.detectron2


# -------------------------------------------------------------------------------------------------
# Image files
# -------------------------------------------------------------------------------------------------
def _rgb(h=48, w=64, seed=0):
    """A smooth colour image (JPEG-friendly) with some noise."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (h + w)], -1).astype(np.int32)
    return np.clip(img + rng.randint(-8, 9, img.shape), 0, 255).astype(np.uint8)


def _jpeg_bytes(h=48, w=64, exif_orientation=None):
    buf = io.BytesIO()
    kw = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kw["exif"] = exif.tobytes()
    Image.fromarray(_rgb(h, w)).save(buf, format="JPEG", quality=90, **kw)
    return buf.getvalue()


def _truncated_jpeg(path):
    """The first 60 % of a valid JPEG: the header opens, the pixels do not decode."""
    data = _jpeg_bytes(120, 160)
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def _ordinary_images(root):
    """JPEG (plain and EXIF-rotated) and PNG in the modes Detectron2's reader handles."""
    rgb = _rgb()
    paths = {}
    paths["plain.jpg"] = root / "plain.jpg"
    paths["plain.jpg"].write_bytes(_jpeg_bytes())
    for orient in (3, 6, 8):
        p = root / f"exif{orient}.jpg"
        p.write_bytes(_jpeg_bytes(exif_orientation=orient))
        paths[p.name] = p
    modes = {
        "rgb.png": Image.fromarray(rgb),
        "rgba.png": Image.fromarray(np.dstack([rgb, rgb[..., 0]])),
        "gray.png": Image.fromarray(rgb[..., 1]),
        "palette.png": Image.fromarray(rgb).convert("P"),
    }
    for name, im in modes.items():
        im.save(root / name)
        paths[name] = root / name
    return paths


def _gradient16(path, h=8, w=300):
    """A 16-bit grayscale PNG: a horizontal ramp over the full 0..65535 range."""
    ramp = np.round(np.linspace(0, 65535, w)).astype(np.uint16)
    Image.fromarray(np.tile(ramp, (h, 1))).save(path)
    return ramp


# -------------------------------------------------------------------------------------------------
# image_io (no detectron2)
# -------------------------------------------------------------------------------------------------
def test_image_io_imports_without_detectron2():
    code = ("import sys; sys.modules['detectron2'] = None\n"
            "import dld_d2.data.image_io as m; print(m.read_image.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and "read_image" in proc.stdout, proc.stderr[-2000:]


def test_formats_and_exif_orientation(tmp_path):
    paths = _ordinary_images(tmp_path)
    for name, p in paths.items():
        upright = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        rgb = read_image(p, "RGB")
        assert rgb.dtype == np.uint8 and rgb.shape == (upright.height, upright.width, 3), name
        np.testing.assert_array_equal(rgb, np.asarray(upright), err_msg=name)
        np.testing.assert_array_equal(read_image(p, "BGR"), rgb[:, :, ::-1], err_msg=name)
        gray = read_image(p, "L")
        assert gray.shape == rgb.shape[:2] + (1,) and gray.dtype == np.uint8
    # EXIF orientation 6 (rotated 90°): the stored 64x48 image reads as 48 wide, 64 high.
    assert read_image(paths["exif6.jpg"], "RGB").shape == (64, 48, 3)


def test_unsupported_format_is_refused(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(_rgb()).save(p)
    with pytest.raises(ValueError, match="not supported"):
        read_image(p, "YUV-BT.601")


def test_truncated_jpeg_is_a_clear_error_naming_the_file(tmp_path):
    path = _truncated_jpeg(tmp_path / "cut.jpg")
    Image.open(path)  # the header alone reads fine: dataset loading lets it through
    with pytest.raises(UnreadableImageError, match="truncated") as info:
        read_image(path, "BGR")
    assert str(path) in str(info.value) and info.value.file_name == str(path)
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize("content", [b"", b"not an image at all", None], ids=["empty", "garbage", "missing"])
def test_other_unreadable_files(tmp_path, content):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UnreadableImageError, match=str(path)):
        read_image(path, "RGB")


def test_16bit_png_is_scaled_to_8bit(tmp_path):
    path = tmp_path / "ramp16.png"
    ramp = _gradient16(path)
    assert Image.open(path).mode.startswith("I")
    for fmt in ("RGB", "BGR", "L"):
        img = read_image(path, fmt)
        assert img.dtype == np.uint8
        row = img[0, :, 0].astype(int)
        assert (np.diff(row) >= 0).all(), "not monotone"
        assert row[0] == 0 and row[-1] == 255
        assert (img == img[..., :1]).all()  # gray in every channel
        # 0..65535 → 0..255, rounded
        np.testing.assert_array_equal(row, np.round(ramp / 257.0).astype(int))
    # mode "I" (32-bit ints holding 16-bit samples) reads the same
    as_i = tmp_path / "ramp_i.tif"
    Image.open(path).convert("I").save(as_i)
    assert Image.open(as_i).mode == "I"
    np.testing.assert_array_equal(read_image(as_i, "L"), read_image(path, "L"))


@d2
def test_same_arrays_as_detectron2_read_image(tmp_path):
    from detectron2.data.detection_utils import read_image as d2_read_image

    for name, p in _ordinary_images(tmp_path).items():
        for fmt in ("BGR", "RGB", "L", None):
            ours, theirs = read_image(str(p), fmt), d2_read_image(str(p), fmt)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (name, fmt)
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{name} {fmt}")


# -------------------------------------------------------------------------------------------------
# TextSpottingDatasetMapper
# -------------------------------------------------------------------------------------------------
def _mapper(is_train):
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.data.vocabulary import Vocabulary

    return TextSpottingDatasetMapper(
        is_train=is_train, augmentations=[], image_format="BGR", vocabulary=Vocabulary.builtin(),
    )


def _dict(path, image_id, h=120, w=160):
    box = [10.0, 10.0, 60.0, 30.0]
    return {
        "file_name": str(path), "image_id": image_id, "height": h, "width": w,
        "annotations": [{"bbox": box, "bbox_mode": 0, "category_id": 0, "iscrowd": 0,
                         "segmentation": [[10, 10, 60, 10, 60, 30, 10, 30]], "text": "abc"}],
    }


@d2
def test_training_mapper_skips_an_unreadable_image(tmp_path, caplog):
    bad = _dict(_truncated_jpeg(tmp_path / "cut.jpg"), 0)
    good_path = tmp_path / "good.jpg"
    good_path.write_bytes(_jpeg_bytes(120, 160))
    mapper = _mapper(is_train=True)
    with caplog.at_level(logging.WARNING, logger="dld_d2"):
        assert mapper(bad) is None
    assert mapper.stats["unreadable_image_skipped"] == 1
    assert str(tmp_path / "cut.jpg") in caplog.text and "truncated" in caplog.text
    # The run goes on: the next image maps as usual.
    out = mapper(_dict(good_path, 1))
    assert tuple(out["image"].shape) == (3, 120, 160) and len(out["instances"]) == 1


@d2
def test_map_dataset_takes_another_image_instead(tmp_path):
    """Detectron2's MapDataset answers a None from the mapper with another (random) index."""
    from detectron2.data.common import DatasetFromList, MapDataset

    good_path = tmp_path / "good.jpg"
    good_path.write_bytes(_jpeg_bytes(120, 160))
    dicts = [_dict(_truncated_jpeg(tmp_path / "cut.jpg"), 0), _dict(good_path, 1)]
    dataset = MapDataset(DatasetFromList(dicts, copy=False), _mapper(is_train=True))
    assert dataset[0]["image_id"] == 1


@d2
def test_inference_mapper_raises_naming_the_file(tmp_path):
    bad = _dict(_truncated_jpeg(tmp_path / "cut.jpg"), 0)
    with pytest.raises(UnreadableImageError, match=str(tmp_path / "cut.jpg")):
        _mapper(is_train=False)(bad)


@d2
def test_mapper_reads_16bit_png(tmp_path):
    path = tmp_path / "ramp16.png"
    ramp = _gradient16(path, h=120, w=160)
    out = _mapper(is_train=False)(_dict(path, 0))
    row = out["image"][0, 0].numpy().astype(int)
    np.testing.assert_array_equal(row, np.round(ramp / 257.0).astype(int))  # not clipped to 255


# -------------------------------------------------------------------------------------------------
# tools/demo.py (a random-weights model of the quick-schedule config, saved as a checkpoint)
# -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    from detectron2.utils.logger import setup_logger

    # setup_logger is cached: called here first, the demo's own call leaves the "dld_d2" logger
    # propagating to caplog (tests/conftest.py sets that per test).
    setup_logger(name="dld_d2")
    return load_script("tools/demo.py", name="demo_tool")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / QUICK))
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("random_model")
    DetectionCheckpointer(build_model(cfg), save_dir=str(folder)).save("model")
    return str(folder / "model.pth")


def _run_demo(demo, inputs, output, weights):
    demo.main(["--config-file", str(REPO / QUICK), "--input", *map(str, inputs),
               "--output", str(output), "--save-json", "MODEL.WEIGHTS", weights])


def _images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(_rgb(48, 64, seed=i)).save(folder / name, quality=90)


@d2
def test_demo_skips_unreadable_inputs_and_keeps_outputs_apart(demo, random_weights, tmp_path, caplog):
    imgs, other = tmp_path / "imgs", tmp_path / "other"
    _images(imgs, ["x.jpg", "x.png"])
    _images(other, ["x.jpg"])
    _truncated_jpeg(imgs / "cut.jpg")
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="dld_d2"):
        _run_demo(demo, [imgs, other / "x.jpg"], out, random_weights)
    # The bad input is named, the others are all processed, the failure count is given.
    assert str(imgs / "cut.jpg") in caplog.text and "truncated" in caplog.text
    assert "1 of 4 input(s) could not be read" in caplog.text
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == [
        "imgs/x.jpg.json", "imgs/x.jpg.vis.jpg", "imgs/x.png.json", "imgs/x.png.vis.jpg",
        "other/x.jpg.json", "other/x.jpg.vis.jpg",
    ]
    assert not list(out.rglob("cut*"))


@d2
def test_demo_fails_when_no_input_is_readable(demo, random_weights, tmp_path):
    bad = _truncated_jpeg(tmp_path / "cut.jpg")
    with pytest.raises(SystemExit, match="No input could be read") as info:
        _run_demo(demo, [bad], tmp_path / "out", random_weights)
    assert info.value.code not in (0, None)


@d2
def test_demo_never_overwrites_its_inputs(demo, random_weights, tmp_path):
    imgs = tmp_path / "imgs"
    _images(imgs, ["x.jpg", "y.png"])
    before = {p.name: p.read_bytes() for p in imgs.iterdir()}
    # Output folder = input folder, twice: the second run does not take the first's outputs
    # as inputs, and no input changes.
    for _ in range(2):
        _run_demo(demo, [imgs], imgs, random_weights)
        assert {p.name: p.read_bytes() for p in imgs.iterdir() if p.name in before} == before
    assert sorted(p.name for p in imgs.iterdir()) == [
        "x.jpg", "x.jpg.json", "x.jpg.vis.jpg", "y.png", "y.png.json", "y.png.vis.jpg"]
    # An input named like another input's output: refused before anything is written.
    (imgs / "x.jpg.vis.jpg").unlink()
    Image.fromarray(_rgb()).save(imgs / "x.jpg.vis.jpg")
    kept = (imgs / "x.jpg.vis.jpg").read_bytes()
    with pytest.raises(SystemExit, match="would overwrite an input"):
        _run_demo(demo, [imgs / "x.jpg", imgs / "x.jpg.vis.jpg"], imgs, random_weights)
    assert (imgs / "x.jpg.vis.jpg").read_bytes() == kept
