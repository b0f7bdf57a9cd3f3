"""Writing a measurement report (`tools/get_flops.py`, `tools/benchmark.py`) as json and markdown."""
import json
import os
from typing import Dict, Optional


def write_reports(report: Dict, markdown: str, json_path: Optional[str], md_path: Optional[str],
                  logger=None):
    """Write the report as json to `json_path` and the markdown to `md_path` (each if given)."""
    for path, content in ((json_path, json.dumps(report, indent=2) + "\n"), (md_path, markdown)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
            if logger is not None:
                logger.info(f"Wrote {path}")
