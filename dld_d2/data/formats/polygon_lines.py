"""The "coordinates, then transcription" line shared by IC15, MLT17, Total-Text poly and ADET GT.

All four write `x1,y1,...,xn,yn[,extra fields],text`; they differ only in where the text starts:

* a fixed number of coordinates (IC15, MLT17: 8) and of extra fields (MLT17: the script), the
  text being *everything* after them, commas included;
* a variable number of coordinates and the text in the last comma field (DAVAR's Total-Text
  rule: the line is split on every comma, so such a text never holds a comma; a numeric text
  such as "558" is still the text);
* a variable number of coordinates ended by a literal separator (ADET: ",####").

The text is kept verbatim: case, inner, leading and trailing spaces (only the line end is cut).
"""
import math
import re

from .common import MALFORMED, RawInstance, Skip

# A finite decimal number; float() alone would also accept "nan", "inf" and "1_0".
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")


def parse_number(field):
    """float of a coordinate field, or None when it is not a plain finite number."""
    if not _NUMBER.fullmatch(field):
        return None
    value = float(field)  # "1e400" or 400 digits match the pattern and read as inf
    return value if math.isfinite(value) else None


def parse_numbers(fields):
    """floats of all `fields`, or None when any of them is not a number."""
    values = [parse_number(f) for f in fields]
    return None if any(v is None for v in values) else values


def parse_polygon_line(line, n_coords=None, n_extra=0, separator=None):
    """Split one GT line into (coordinates, extra fields, text).

    Args:
        n_coords: fixed coordinate count (text = the rest after the extras) or None (variable).
        n_extra: fields between the coordinates and the text (MLT17's script).
        separator: with n_coords=None, the literal string that ends the coordinates (ADET
            ",####"); None means the text is the last comma field.
    Raises:
        ValueError: the line does not have this layout (message without the location).
    """
    if n_coords is not None:
        fields = line.split(",", n_coords + n_extra)
        if len(fields) <= n_coords + n_extra:
            want = f"{n_coords} coordinates" + (f" and {n_extra} extra field(s)" if n_extra else "")
            raise ValueError(f"expected {want} before the text, got {len(fields)} fields")
        coord_fields, extra, text = fields[:n_coords], fields[n_coords:-1], fields[-1]
    elif separator is not None:
        head, sep, text = line.partition(separator)
        if not sep:
            raise ValueError(f"no {separator!r} between the coordinates and the text")
        coord_fields, extra = head.split(","), []
    else:
        fields = line.split(",")
        if len(fields) < 2:
            raise ValueError("no comma: expected coordinates then the text")
        coord_fields, extra, text = fields[:-1], [], fields[-1]
    coords = parse_numbers(coord_fields)
    if coords is None:
        bad = next(f for f in coord_fields if parse_number(f) is None)
        raise ValueError(f"coordinate field {bad!r} is not a number")
    if len(coords) % 2:
        raise ValueError(f"odd number of coordinates ({len(coords)})")
    return coords, extra, text


def iter_lines(text):
    """(line number, line) of the non-blank lines of a GT file, line ends (LF, CRLF) removed."""
    for n, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            yield n, line


def parse_line_file(text, origin, parse_line):
    """Apply a line parser to every line of a GT file: RawInstance per good line, Skip per bad one.

    `parse_line(line) -> (coords, text[, care])` raises ValueError for a malformed line.
    """
    for n, line in iter_lines(text):
        where = f"{origin}, line {n}"
        try:
            parsed = parse_line(line)
        except ValueError as e:
            yield Skip(where, MALFORMED, f"{e}: {line!r}")
            continue
        yield RawInstance(where, *parsed)

