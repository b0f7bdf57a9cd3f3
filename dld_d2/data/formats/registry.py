"""The annotation formats: one `register_format` call per format, next to its parser.

A format is read by exactly one of:
    parse_line(line) -> (coords, text[, care])  a GT file line by line (ValueError: malformed line)
    parse_file(text, origin) -> RawInstance / Skip items   a whole GT file at once
    read_datalist(path) -> (images, skips)      one file listing every image (a JSON datalist);
                                                images have key, image_id, origin, height, width,
                                                items (see common.DatalistImage)
and detected (detect.py) by:
    check_line(line)  raises ValueError when the line is not of this format. Sampled lines are
                      tried against every line check; in `rank` order (lowest first) the first
                      format reading enough of them wins. With `needs_evidence`, a format wins
                      at its rank only when check_line returned something true for some line,
                      and otherwise after every other line format.
    sniff(head)       True when `head` shows the format at once. `head` is left-stripped: the
                      first 4 KiB of a single (non-zip) source file for a datalist format, the
                      first non-blank line of each GT file for the others.
FORMATS (the package's tuple of names) is in registration order, which formats/__init__.py fixes
by the order in which it imports the format modules.
"""
from dataclasses import dataclass
from typing import Callable, Optional

_REGISTRY = {}  # name -> AnnotationFormat, in registration order


@dataclass(frozen=True)
class AnnotationFormat:
    """How one annotation format is read and detected (see the module docstring)."""

    name: str
    description: str  # one line: what a line or record looks like
    parse_line: Optional[Callable] = None
    parse_file: Optional[Callable] = None
    read_datalist: Optional[Callable] = None
    check_line: Optional[Callable] = None
    rank: Optional[int] = None
    needs_evidence: bool = False
    sniff: Optional[Callable] = None


def register_format(name, description, **hooks):
    """Register the format `name` (keywords: the fields of AnnotationFormat); returns it.

    ValueError for a name already taken or an inconsistent set of hooks.
    """
    fmt = AnnotationFormat(name, description, **hooks)
    readers = [fmt.parse_line, fmt.parse_file, fmt.read_datalist]
    if sum(r is not None for r in readers) != 1:
        raise ValueError(f"format {name!r}: give exactly one of parse_line, parse_file, "
                         "read_datalist")
    if (fmt.check_line is None) != (fmt.rank is None):
        raise ValueError(f"format {name!r}: check_line and rank go together")
    if fmt.needs_evidence and fmt.check_line is None:
        raise ValueError(f"format {name!r}: needs_evidence requires check_line")
    if name in _REGISTRY:
        raise ValueError(f"annotation format {name!r} is already registered")
    _REGISTRY[name] = fmt
    return fmt


def unregister_format(name):
    """Remove a registered format (for tests and plug-ins that undo themselves)."""
    del _REGISTRY[name]


def names():
    """Names of the registered formats, in registration order."""
    return tuple(_REGISTRY)


def get_format(name):
    """The AnnotationFormat called `name`; ValueError listing the formats when there is none."""
    if name not in names():  # a tuple test: any value, hashable or not, gets the ValueError
        raise ValueError(
            f"unknown annotation format {name!r}; expected one of {', '.join(_REGISTRY)}"
        )
    return _REGISTRY[name]


def line_formats():
    """The formats with a line check, in detection order (rank, then registration order)."""
    return sorted((f for f in _REGISTRY.values() if f.check_line is not None),
                  key=lambda f: f.rank)


def sniffers(datalist):
    """The formats with a sniffer that read a datalist (`datalist`=True) or GT files (False)."""
    return [
        f for f in _REGISTRY.values()
        if f.sniff is not None and (f.read_datalist is not None) == datalist
    ]
