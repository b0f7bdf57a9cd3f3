"""Types shared by the annotation parsers: parsed instances, skips, the load report."""
import logging
import math
import reprlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

logger = logging.getLogger("dld_d2.data")

# == detectron2.structures.BoxMode.XYXY_ABS (kept as a plain int so this layer has no detectron2).
BOX_MODE_XYXY_ABS = 0

DONT_CARE_TEXT = "###"

# Skip reasons (what was not loaded).
MALFORMED = "malformed_line"  # a line (or JSON instance) that does not parse
TOO_FEW_POINTS = "too_few_points"  # a polygon of fewer than 3 points
MISSING_IMAGE = "missing_image"  # image_root given, no image for this annotation file/entry
UNREADABLE_IMAGE = "unreadable_image"  # image found, header unreadable
UNREADABLE_FILE = "unreadable_file"  # annotation file that is not UTF-8
MALFORMED_ENTRY = "malformed_entry"  # a DAVAR JSON entry that is not an image record

# Flags (kept, but altered or worth knowing).
DEGENERATE = "degenerate"  # zero-area polygon: kept as don't-care
INVALID_KEPT = "invalid_polygon_kept"  # self-intersecting polygon with an area: kept as-is
CLIPPED = "clipped"  # coordinates clipped to the image
OUTSIDE_IMAGE = "outside_image"  # nothing of the polygon is left inside the image after clipping

# Why an instance is don't-care (one reason per instance, first that applies in this order).
DC_MARKER = "###"  # the don't-care transcription (Total-Text's "#" is read as "###")
DC_FLAG = "care_flag"  # the source itself says don't-care (DAVAR cares=0, Total-Text ornt '#')
DC_TOO_LONG = "too_long"  # longer than max_text_len
DC_DEGENERATE = DEGENERATE

_LOGGED_PER_REASON = 10  # individual log lines per reason; the rest only in the summary


class AnnotationError(ValueError):
    """A problem in an annotation source; the message names the file and line."""


@dataclass
class RawInstance:
    """One parsed text instance before validation: flat polygon coordinates and transcription."""

    where: str  # "file, line N" (or the JSON entry), for messages
    coords: list
    text: str
    care: bool = True  # False when the source marks it don't-care by a flag rather than "###"


@dataclass
class Skip:
    """A line or instance that could not be used, with the reason and a human-readable detail."""

    where: str
    reason: str
    detail: str


@dataclass
class LoadReport:
    """What `load_annotations` read, kept, flagged and skipped."""

    source: str = ""
    fmt: str = ""
    files: int = 0  # annotation files (or JSON image entries) read
    images: int = 0  # images in the result
    care: int = 0
    dont_care: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count, nothing loaded
    flagged: Counter = field(default_factory=Counter)  # reason -> count, kept (see module flags)
    dont_care_by_reason: Counter = field(default_factory=Counter)
    ignored_entries: int = 0  # folder/zip entries that are not annotation files (*.txt)
    unannotated_images: Optional[int] = None  # images in image_root with no annotation file
    examples: dict = field(default_factory=dict)  # reason -> first "where: detail" messages

    def note(self, counter, reason, where, detail):
        """Count `reason` in `counter` ("skipped"/"flagged"); keep an example, log the first few."""
        getattr(self, counter)[reason] += 1
        msgs = self.examples.setdefault(reason, [])
        if len(msgs) < 5:
            msgs.append(f"{where}: {detail}")
        n = getattr(self, counter)[reason]
        if n <= _LOGGED_PER_REASON:
            suffix = "; skipped" if counter == "skipped" else ""
            logger.warning("%s: %s%s [%s]", where, detail, suffix, reason)
        elif n == _LOGGED_PER_REASON + 1:
            logger.warning("further '%s' cases are counted but not logged one by one", reason)

    def summary(self):
        """One paragraph: images, care/don't-care instances, skips and flags by reason."""
        parts = [
            f"{self.source} [{self.fmt}]: {self.images} images from {self.files} files, "
            f"{self.care} care and {self.dont_care} don't-care instances"
        ]
        if self.dont_care_by_reason:
            parts.append("don't-care by reason: " + _fmt_counter(self.dont_care_by_reason))
        parts.append("skipped: " + (_fmt_counter(self.skipped) if self.skipped else "nothing"))
        if self.flagged:
            parts.append("flagged (kept): " + _fmt_counter(self.flagged))
        if self.ignored_entries:
            parts.append(f"{self.ignored_entries} non-annotation entries ignored")
        if self.unannotated_images:
            parts.append(f"{self.unannotated_images} images in image_root have no annotation file")
        return "; ".join(parts)

    def as_dict(self):
        """JSON-ready counts (without the example messages)."""
        return {
            "source": self.source,
            "format": self.fmt,
            "files": self.files,
            "images": self.images,
            "care": self.care,
            "dont_care": self.dont_care,
            "dont_care_by_reason": dict(self.dont_care_by_reason),
            "skipped": dict(self.skipped),
            "flagged": dict(self.flagged),
            "ignored_entries": self.ignored_entries,
            "unannotated_images": self.unannotated_images,
        }


def _fmt_counter(counter):
    return ", ".join(f"{k}={v}" for k, v in sorted(counter.items()))


@dataclass
class DatalistImage:
    """One image of a datalist file (DAVAR JSON, COCO-Text, converted SynthText)."""

    key: str  # image path relative to the image folder
    image_id: str
    origin: str  # where it was read, for messages: file[entry]
    height: object  # int or None
    width: object
    items: list  # RawInstance / Skip


def image_size_field(entry: dict, name: str):
    """entry[name] as an image side: None when absent; ValueError unless a finite number >= 1."""
    value = entry.get(name)
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        # JSON 1e400 reads as inf; a huge integer raises OverflowError here.
        ok = number and math.isfinite(value) and value >= 1
    except OverflowError:
        ok = False
    if not ok:
        raise ValueError(f"{name} is {reprlib.repr(value)}, expected a finite number >= 1")
    return int(value)
