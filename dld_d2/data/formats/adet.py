"""AdelaiDet / TESTR / DeepSolo evaluation GT: `x1,y1,...,xn,yn,####text` in `%07d.txt` entries.

The literal ",####" ends the coordinates, so the text may hold commas; a don't-care line ends in
"#######" (separator + "###"). The entry number is the image number for IC15, and the index of
the image name in the sorted test list for Total-Text (docs/evaluation.md, "Ground truth"), so
the image id is the entry stem itself.
"""
from .polygon_lines import parse_polygon_line
from .registry import register_format

SEPARATOR = ",####"


def parse_adet_line(line):
    """(coords, text) of one ADET GT line."""
    coords, _, text = parse_polygon_line(line, separator=SEPARATOR)
    return coords, text


# ",####" is the most distinctive line form: detected first.
register_format(
    "adet",
    "`x1,y1,...,xn,yn,####text` (AdelaiDet/TESTR evaluation zip, `%07d.txt`)",
    parse_line=parse_adet_line,
    check_line=parse_adet_line,
    rank=10,
)
