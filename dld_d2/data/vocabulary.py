"""Character vocabulary: text <-> class ids for the recognition branch (docs/data.md, "Vocabulary").

Ids: 0 = GO (also the padding value), 1 = EOS, 2.. = the characters in file order. The built-in
set is DAVAR's 95-character Latin list (`character_list.txt` beside this module), which is *not*
in ASCII order, so "Ab1" encodes to [0, 39, 14, 3, 1, 0, ...].

Vocabulary files are UTF-8 with one character per line. Empty lines are ignored (no character
can be written as an empty line), a trailing CR is removed (CRLF files), and a leading BOM is
dropped. A file whose only non-empty line holds more than one character is read in the one-line
form of the built-in file: every character of that line is an entry. Duplicates, and lines of
more than one character in the one-per-line form, are errors that name the file and line.

Out-of-vocabulary characters never raise here: `encode` returns None and `encode_padded` gives a
row of zeros (no recognition target); callers count and log them.
"""
import hashlib
from pathlib import Path

BUILTIN_CHARSET = Path(__file__).with_name("character_list.txt")

# The recognition token ids, defined here only; the recognition branch imports them.
GO_ID = 0  # start token, fed to the decoder at its first step
EOS_ID = 1  # end of sequence; a real target of the recognition loss
PAD_ID = GO_ID  # fills encoded rows after EOS and finished beams; ignored by the loss, never emitted


class Vocabulary:
    """An ordered character set with the GO/EOS convention of the recognition branch."""

    GO = GO_ID  # start token; also the padding value of encoded rows
    EOS = EOS_ID  # end of sequence; a real target of the recognition loss
    NUM_SPECIAL = 2

    def __init__(self, chars, source="<list>"):
        chars = list(chars)
        index = {}
        for i, ch in enumerate(chars):
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"{source}: entry {i} is {ch!r}, expected one character")
            if ch in index:
                raise ValueError(
                    f"{source}: character {ch!r} at entry {i} duplicates entry {index[ch]}"
                )
            index[ch] = i
        self.chars = tuple(chars)
        self.source = str(source)
        self._ids = {ch: i + self.NUM_SPECIAL for ch, i in index.items()}

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path):
        """Read a UTF-8 vocabulary file (one character per line, or the one-line form)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8-sig")
        # (line number, content) of every non-empty line; only a CR is stripped, since a space
        # is a character of its own.
        lines = [(n, ln.removesuffix("\r")) for n, ln in enumerate(text.split("\n"), 1)]
        lines = [(n, ln) for n, ln in lines if ln]
        if not lines:
            raise ValueError(f"{path}: vocabulary file has no characters")
        if len(lines) == 1 and len(lines[0][1]) > 1:
            # One-line form (DAVAR's character_list.txt): each character is an entry.
            n, line = lines[0]
            located = [(f"line {n}, column {c}", ch) for c, ch in enumerate(line, 1)]
        else:
            for n, line in lines:
                if len(line) != 1:
                    raise ValueError(
                        f"{path}, line {n}: {line!r} has {len(line)} characters; expected one "
                        "character per line"
                    )
            located = [(f"line {n}", line) for n, line in lines]
        seen = {}
        for where, ch in located:
            if ch in seen:
                raise ValueError(
                    f"{path}, {where}: duplicate character {ch!r} (first at {seen[ch]})"
                )
            seen[ch] = where
        return cls([ch for _, ch in located], source=path)

    @classmethod
    def builtin(cls):
        """The built-in 95-character Latin set (97 classes with GO and EOS)."""
        return cls.from_file(BUILTIN_CHARSET)

    @classmethod
    def from_spec(cls, path_or_none):
        """`None` or "" → the built-in set; otherwise the vocabulary file at that path."""
        return cls.builtin() if not path_or_none else cls.from_file(path_or_none)

    # -- queries --------------------------------------------------------------------------------
    def __len__(self):
        """Number of classes: GO, EOS and the characters."""
        return len(self.chars) + self.NUM_SPECIAL

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.chars == other.chars

    def __hash__(self):
        return hash(self.chars)

    def __repr__(self):
        return f"Vocabulary({len(self.chars)} characters from {self.source}, hash={self.hash[:12]})"

    @property
    def hash(self):
        """Stable sha1 of the ordered character list (stored with checkpoints, checked on load)."""
        # Entries are single characters and never a newline, so the join is unambiguous.
        return hashlib.sha1("\n".join(self.chars).encode("utf-8")).hexdigest()

    def contains(self, text):
        """True when every character of `text` is in the vocabulary."""
        return all(ch in self._ids for ch in text)

    def oov_chars(self, text):
        """The distinct out-of-vocabulary characters of `text`, in order of first appearance."""
        return list(dict.fromkeys(ch for ch in text if ch not in self._ids))

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, text):
        """Character ids of `text` (no GO/EOS), or None when a character is out of vocabulary."""
        try:
            return [self._ids[ch] for ch in text]
        except KeyError:
            return None

    def encode_padded(self, texts, max_len=32):
        """LongTensor (N, max_len + 2): each row is GO, the ids, EOS, then 0-padding.

        A row of zeros means "no recognition target": texts that are empty, longer than
        `max_len` or contain out-of-vocabulary characters.
        """
        import torch  # imported here so that annotation tools need not load torch

        rows = torch.zeros((len(texts), max_len + 2), dtype=torch.long)
        for r, text in enumerate(texts):
            ids = self.encode(text) if text else None
            if ids is None or len(ids) > max_len:
                continue
            rows[r, 1 : len(ids) + 1] = torch.tensor(ids, dtype=torch.long)
            rows[r, len(ids) + 1] = self.EOS
        return rows

    def decode(self, ids):
        """Text of a sequence of ids: GO/pad (0) is skipped, decoding stops at the first EOS.

        Accepts a list, a numpy array or a 1-D tensor. Without an EOS every id is decoded.
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        out = []
        n_classes = len(self)
        for i in ids:
            i = int(i)
            if i == self.EOS:
                break
            if i == self.GO:
                continue
            if not 0 <= i < n_classes:
                raise ValueError(f"id {i} is outside the vocabulary (0..{n_classes - 1})")
            out.append(self.chars[i - self.NUM_SPECIAL])
        return "".join(out)
