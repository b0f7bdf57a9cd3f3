"""`SafeCfgNode`: Detectron2's CfgNode whose config files are data, never code."""
import os

import yaml
from detectron2.config import CfgNode


class ConfigFileError(ValueError):
    """A config file that cannot be read, with the file (and line) that is wrong."""


class SafeCfgNode(CfgNode):
    """Detectron2's CfgNode, except that `merge_from_file` never falls back to `yaml.unsafe_load`
    (Detectron2's default does, with only a warning, for files with Python-object tags such as
    `!!python/object/apply`), and errors name the file and line."""

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
