"""The cache-folder helper behind the synthetic scenes and the word sheets (no detectron2)."""
import json
import os

import pytest

from dld_d2.data.cache_folder import build_folder_once


def _writer(calls):
    def build_into(tmp):
        calls.append(tmp)
        assert os.listdir(tmp) == []  # an empty folder of its own
        with open(os.path.join(tmp, "data.txt"), "w") as f:
            f.write("payload")
        with open(os.path.join(tmp, "index.json"), "w") as f:
            json.dump({"n": 1}, f)
    return build_into


def test_builds_once_then_reuses(tmp_path):
    final = str(tmp_path / "cache" / "thing")
    calls = []
    build_folder_once(final, _writer(calls))
    build_folder_once(final, _writer(calls))
    assert len(calls) == 1 and calls[0].startswith(final + ".tmp-")
    assert sorted(os.listdir(tmp_path / "cache")) == ["thing", "thing.lock"]
    assert (tmp_path / "cache" / "thing" / "data.txt").read_text() == "payload"


def test_a_failed_build_leaves_nothing_and_the_next_one_builds(tmp_path):
    final = str(tmp_path / "thing")

    def broken(tmp):
        with open(os.path.join(tmp, "half.txt"), "w") as f:
            f.write("half")
        raise OSError("disk full while writing half.txt")

    with pytest.raises(OSError, match="disk full"):
        build_folder_once(final, broken)
    assert sorted(os.listdir(tmp_path)) == ["thing.lock"]  # no temporary folder, no final one
    calls = []
    build_folder_once(final, _writer(calls))
    assert len(calls) == 1 and os.path.isfile(os.path.join(final, "index.json"))


def test_a_build_without_an_index_is_an_error_naming_the_folder(tmp_path):
    final = str(tmp_path / "thing")
    with pytest.raises(RuntimeError, match=r"thing wrote no index.json"):
        build_folder_once(final, lambda tmp: None)
    assert sorted(os.listdir(tmp_path)) == ["thing.lock"]


def test_a_crashed_builders_leftovers_are_removed(tmp_path):
    final = tmp_path / "thing"
    stale = tmp_path / "thing.tmp-999999-deadbeef"  # a builder killed mid-way
    (stale / "images").mkdir(parents=True)
    other = tmp_path / "other.tmp-1-x"  # another cache folder's: not ours to touch
    other.mkdir()
    build_folder_once(str(final), _writer([]))
    assert sorted(os.listdir(tmp_path)) == ["other.tmp-1-x", "thing", "thing.lock"]
