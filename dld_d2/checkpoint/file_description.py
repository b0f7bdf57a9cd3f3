"""What a file that failed to load as a checkpoint looks like, for error messages (no
Detectron2 import: the DAVAR converter uses it too)."""
import os


def describe_file(path):
    """A few words on what a file that failed to load as a checkpoint looks like."""
    size = os.path.getsize(path)
    if size == 0:
        return "it is empty"
    with open(path, "rb") as f:
        head = f.read(256)
    if head.startswith(b"PK"):
        return (f"it is a zip archive of {size} bytes that cannot be read whole: truncated or "
                "corrupt (an interrupted save or copy?)")
    if head[:1] == b"\x80":
        return f"it is a pickle of {size} bytes that cannot be read whole: truncated or corrupt"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"it is a binary file of {size} bytes in no format PyTorch reads"
    first = text.strip().splitlines()[0][:60] if text.strip() else ""
    return f"it is a text file, starting {first!r}"
