"""Vocabulary: the built-in DAVAR character order, ids, padding, decoding, files and errors."""
import pytest
import torch

from dld_d2.data.vocabulary import Vocabulary

DAVAR_CHARSET = "charset/character_list.txt"


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.builtin()


def test_builtin_ids_follow_the_file_order(vocab):
    assert len(vocab) == 97 and len(vocab.chars) == 95
    # docs/data.md, "Vocabulary": digits 2-11, space 12, a-z 13-38, A-Z 39-64, symbols 65-96.
    assert vocab.encode("0") == [2] and vocab.encode("9") == [11]
    assert vocab.encode(" ") == [12]
    assert vocab.encode("az") == [13, 38]
    assert vocab.encode("AZ") == [39, 64]
    assert vocab.encode("[") == [65] and vocab.encode("\\") == [96]


def test_encode_padded_row_layout(vocab):
    rows = vocab.encode_padded(["Ab1"])
    assert rows.dtype == torch.long and rows.shape == (1, 34)
    assert rows[0].tolist() == [0, 39, 14, 3, 1] + [0] * 29


def test_no_target_rows_are_zero(vocab):
    rows = vocab.encode_padded(["café", "", "x" * 33, "x" * 32, "ok"], max_len=32)
    assert rows[:3].abs().sum() == 0  # OOV, empty, too long
    assert rows[3, 33] == Vocabulary.EOS  # exactly max_len still fits
    assert rows[4, :4].tolist() == [0, 27, 23, 1]
    assert vocab.encode_padded([], max_len=5).shape == (0, 7)


def test_oov_is_reported_not_raised(vocab):
    assert vocab.encode("naïve café") is None
    assert not vocab.contains("naïve café") and vocab.contains("Hello, World!")
    assert vocab.oov_chars("naïve café é") == ["ï", "é"]
    assert vocab.oov_chars("plain") == []


def test_decode(vocab):
    ids = [0, 39, 14, 3, 1, 0, 0]
    assert vocab.decode(ids) == "Ab1"
    assert vocab.decode(torch.tensor(ids)) == "Ab1"
    assert vocab.decode([39, 14, 1, 15]) == "Ab"  # stops at EOS
    assert vocab.decode([39, 14, 3]) == "Ab1"  # no EOS: keep all
    for text in ["Hello, World!", "a b", "~}^\\", ""]:
        assert vocab.decode(vocab.encode(text)) == text
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([97])


def test_hash_is_stable_and_order_sensitive(vocab):
    # Pinned: checkpoints store this hash; changing it would orphan them.
    assert vocab.hash == "fcb21b9d56d29a0bc484330276f5adde4fd86f95"
    assert Vocabulary(list("ab")).hash != Vocabulary(list("ba")).hash


def test_from_spec(vocab, tmp_path):
    assert Vocabulary.from_spec(None) == vocab
    assert Vocabulary.from_spec("") == vocab
    path = tmp_path / "v.txt"
    path.write_text("a\nb\n", encoding="utf-8")
    assert Vocabulary.from_spec(str(path)).chars == ("a", "b")


def test_file_one_char_per_line(tmp_path):
    path = tmp_path / "chars.txt"
    # BOM, CRLF, a space as a character, a blank line, a non-Latin character.
    path.write_bytes("\ufeffa\r\n \r\n\r\nß\r\n中\r\n".encode("utf-8"))
    v = Vocabulary.from_file(path)
    assert v.chars == ("a", " ", "ß", "中")
    assert len(v) == 6 and v.encode("中 a") == [5, 3, 2]


def test_file_one_line_form(tmp_path):
    path = tmp_path / "line.txt"
    path.write_text("xyz", encoding="utf-8")
    assert Vocabulary.from_file(path).chars == ("x", "y", "z")


def test_builtin_equals_the_davar_file(eval_data):
    assert Vocabulary.from_file(eval_data / DAVAR_CHARSET) == Vocabulary.builtin()


def test_file_errors_name_file_and_line(tmp_path):
    dup = tmp_path / "dup.txt"
    dup.write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dup\.txt, line 3: duplicate character 'a' \(first at"):
        Vocabulary.from_file(dup)
    dup_line = tmp_path / "dup_line.txt"
    dup_line.write_text("abca", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dup_line\.txt, line 1, column 4: duplicate"):
        Vocabulary.from_file(dup_line)
    multi = tmp_path / "multi.txt"
    multi.write_text("a\nbc\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"multi\.txt, line 2: 'bc' has 2 characters"):
        Vocabulary.from_file(multi)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no characters"):
        Vocabulary.from_file(empty)
