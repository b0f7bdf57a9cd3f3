"""`SafeCfgNode`: Detectron2's CfgNode whose config files are data, never code."""
import os

import yaml
from detectron2.config import CfgNode


class ConfigFileError(ValueError):
    """A config file that cannot be read, with the file (and line) that is wrong."""


class ConfigOverrideError(ValueError):
    """A KEY VALUE override (command line) that cannot be applied, with the override named."""


class SafeCfgNode(CfgNode):
    """Detectron2's CfgNode, except that `merge_from_file` never falls back to `yaml.unsafe_load`
    (Detectron2's default does, with only a warning, for files with Python-object tags such as
    `!!python/object/apply`), and errors name the file and line, or the override, that is wrong."""

    def merge_from_list(self, cfg_list) -> None:
        cfg_list = list(cfg_list)
        # The overrides are argparse's REMAINDER: an option written after them lands here.
        options = [k for k in cfg_list[0::2] if isinstance(k, str) and k.startswith("-")]
        if options:
            raise ConfigOverrideError(
                f"{options[0]} follows the KEY VALUE config overrides, which must come last: "
                f"put it before them (overrides: {' '.join(map(str, cfg_list))})")
        if len(cfg_list) % 2:
            raise ConfigOverrideError(
                f"config overrides come in KEY VALUE pairs; {cfg_list[-1]} has no value")
        try:
            super().merge_from_list(cfg_list)
        except AssertionError as e:  # yacs: "Non-existent key: X"
            raise ConfigOverrideError(f"config override: {e}; no config defines it") from None
        except ValueError as e:  # yacs: a value of the wrong type
            raise ConfigOverrideError(f"config override: {e}") from None

    def merge_from_file(self, cfg_filename: str, allow_unsafe: bool = False) -> None:
        if allow_unsafe:
            raise ValueError("dld_d2 never loads config files with unsafe YAML")
        if not os.path.isfile(cfg_filename):
            raise FileNotFoundError(f"config file not found: {cfg_filename}")
        try:
            super().merge_from_file(cfg_filename, allow_unsafe=False)
        except yaml.constructor.ConstructorError as e:
            raise ConfigFileError(
                f"{_where(e, cfg_filename)}: {e.problem}. Config files are data: Python-object "
                "tags (!!python/...) are not allowed"
            ) from None
        except yaml.YAMLError as e:
            raise ConfigFileError(f"{_where(e, cfg_filename)}: not valid YAML ({e})") from None
        except KeyError as e:  # yacs: a key that no config defines
            raise ConfigFileError(f"{cfg_filename}: {e.args[0] if e.args else e}") from None


def _where(error, default_file):
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return default_file
    return f"{mark.name if mark.name and not mark.name.startswith('<') else default_file}, line {mark.line + 1}"
