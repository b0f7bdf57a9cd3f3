"""`TextSpotterCheckpointer`: Detectron2's checkpointer made safe for files from users.

- `.pkl` files are unpickled as data only (`load_data_pickle`), `.pth` files with torch's
  weights-only loader: loading a checkpoint never runs code from it.
- A file that is not a checkpoint, or is truncated, is an error that says what the file is.
- A checkpoint that matches none of the model's parameters is an error; with
  `require="complete"` (evaluation, teacher weights) so is any missing parameter. Partial
  initialisations (e.g. a backbone only) load and say what they left at initialisation.
- Saves are atomic (written beside the target, then renamed), so a kill during a save leaves
  the previous checkpoint intact; a resume from a broken last checkpoint names the newest
  intact one.
- It knows a DLD model's three parts (`teacher.`, `student.`, `selector.`): a plain TextSpotter
  checkpoint loads into teacher and student both, and when training starts (not on a resume)
  MODEL.DLD.TEACHER_WEIGHTS initialises the teacher and the student before MODEL.WEIGHTS.
"""
import glob
import logging
import os
import tempfile

import torch
from detectron2.checkpoint import DetectionCheckpointer

from .file_description import describe_file
from .safe_pickle import UnsafePickleError, load_data_pickle

logger = logging.getLogger(__name__)

#: Prefixes of the three parts of a DLD state dict.
DLD_PARTS = ("teacher", "student", "selector")
# Buffers that need not come from a checkpoint: filled from the config (pixel statistics), or
# a BatchNorm step count that fvcore never reports missing.
_NOT_REQUIRED = ("pixel_mean", "pixel_std", "num_batches_tracked")


class CheckpointError(ValueError):
    """A weights file that cannot be loaded into the model, with what was wrong and where."""


def checkpoint_parts(state_dict):
    """Which DLD parts a state dict holds; [] for a plain spotter checkpoint."""
    return [p for p in DLD_PARTS if any(k.startswith(p + ".") for k in state_dict)]


def _atomic_write(path, write):
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class TextSpotterCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer with safe loading, fit checks, atomic saves and DLD parts (module
    docstring).

    Args:
        require: "any" (fail only when nothing matches; training initialisations) or "complete"
            (every parameter the model uses at inference must be in the checkpoint).
        purpose: how messages name the weights, e.g. "MODEL.WEIGHTS" or
            "MODEL.DLD.TEACHER_WEIGHTS".
        teacher_weights: MODEL.DLD.TEACHER_WEIGHTS when this checkpointer starts the training of
            a model (`resume_or_load`); None for evaluation, which needs no teacher.
    """

    def __init__(self, model, save_dir="", *, require="any", purpose="MODEL.WEIGHTS",
                 teacher_weights=None, **checkpointables):
        if require not in ("any", "complete"):
            raise ValueError(f"require must be 'any' or 'complete', got {require!r}")
        super().__init__(model, save_dir, **checkpointables)
        self.require, self.purpose = require, purpose
        self.teacher_weights = teacher_weights
        self._source = None

    # ------------------------------------------------------------------------------------- DLD
    def load_teacher(self, path):
        """MODEL.DLD.TEACHER_WEIGHTS: a complete plain TextSpotter checkpoint, loaded into the
        DLD model's teacher and copied into its student (which starts as the teacher)."""
        if "://" not in path and not os.path.isfile(path):
            raise FileNotFoundError(
                f"MODEL.DLD.TEACHER_WEIGHTS={path}: no such file (expected a trained "
                "TextSpotter checkpoint, e.g. output/demo/teacher/model_final.pth)"
            )
        teacher, student = self.model.teacher, self.model.student
        TextSpotterCheckpointer(
            teacher, require="complete", purpose="MODEL.DLD.TEACHER_WEIGHTS"
        ).load(path)
        student.load_state_dict(teacher.state_dict())

    def _start_dld_training(self, path):
        # Distilling from a random teacher would run and teach nothing.
        if self.teacher_weights:
            self.load_teacher(self.teacher_weights)
        elif not path:
            raise CheckpointError(
                "MODEL.DLD.TEACHER_WEIGHTS and MODEL.WEIGHTS are both empty: set "
                "MODEL.DLD.TEACHER_WEIGHTS to a trained TextSpotter checkpoint (e.g. "
                "output/demo/teacher/model_final.pth), or MODEL.WEIGHTS to a DLD checkpoint"
            )

    # ----------------------------------------------------------------------------------- loading
    def load(self, path, *args, **kwargs):
        if not path:
            if self.require == "complete":
                raise CheckpointError(
                    f"{self.purpose} is empty: give the trained checkpoint to load (a random "
                    f"{type(self.model).__name__} would run and report meaningless results)"
                )
            return super().load(path, *args, **kwargs)
        if "://" not in path and not os.path.isfile(path):
            raise FileNotFoundError(f"{self.purpose}: checkpoint {path} not found")
        self._source = path
        try:
            return super().load(path, *args, **kwargs)
        finally:
            self._source = None

    def _load_file(self, filename):
        if filename.endswith(".pkl"):
            # Detectron2's own reader unpickles with no restriction: read the data safely and
            # hand it over in the form that reader produces.
            try:
                data = load_data_pickle(filename)
            except UnsafePickleError as e:
                raise CheckpointError(f"{self.purpose}: {e}") from None
            except Exception as e:  # truncated or not a pickle
                raise CheckpointError(
                    f"{self.purpose}: {filename} is not a readable .pkl checkpoint: "
                    f"{describe_file(filename)} ({type(e).__name__}: {e})"
                ) from None
            if not isinstance(data, dict):
                raise CheckpointError(
                    f"{self.purpose}: {filename} holds a {type(data).__name__}, not a dict of weights"
                )
            if "model" in data and "__author__" in data:
                return data
            if "blobs" in data:  # Caffe2 / Detectron1 detection models
                data = data["blobs"]
            data = {k: v for k, v in data.items() if not k.endswith("_momentum")}
            return {"model": data, "__author__": "Caffe2", "matching_heuristics": True}
        try:
            loaded = super()._load_file(filename)
        except CheckpointError:
            raise
        except Exception as e:  # torch raises several types for files it cannot read
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if "Weights only load failed" in str(e):
                raise CheckpointError(
                    f"{self.purpose}: refused to load {filename}: it holds Python objects beyond "
                    "tensors and plain containers, which could run code. Re-save its state dict "
                    "(torch.save({'model': model.state_dict()}, path)) from a trusted session."
                ) from None
            raise CheckpointError(
                f"{self.purpose}: {filename} is not a readable PyTorch checkpoint: "
                f"{describe_file(filename)} ({type(e).__name__}: {reason})"
            ) from None
        if not isinstance(loaded.get("model"), dict):
            raise CheckpointError(
                f"{self.purpose}: {filename} holds no state dict (its 'model' entry is a "
                f"{type(loaded.get('model')).__name__})"
            )
        return loaded

    def _torch_load(self, f):
        return torch.load(f, map_location=torch.device("cpu"), weights_only=True)

    def _load_model(self, checkpoint):
        source = self._source or "the checkpoint"
        model_keys = [k for k in self.model.state_dict() if k.rsplit(".", 1)[-1] not in _NOT_REQUIRED]
        own_parts = checkpoint_parts(dict.fromkeys(model_keys))
        parts = checkpoint_parts(checkpoint["model"])
        if parts and not own_parts:
            raise CheckpointError(
                f"{self.purpose}={source} is a DLD checkpoint (it holds {', '.join(parts)}); this "
                f"{type(self.model).__name__} needs a plain TextSpotter checkpoint (a teacher's "
                "model_final.pth); load a DLD checkpoint with a DLD config (META_ARCHITECTURE "
                "DLDSpotter)"
            )
        n_entries = len(checkpoint["model"])
        examples = ", ".join(sorted(checkpoint["model"])[:3]) or "no entries"
        if own_parts and not parts:
            logger.info("Loading a plain text-spotter checkpoint into the teacher and the student")
            checkpoint["model"] = {
                f"{part}.{k}": v for k, v in checkpoint["model"].items() for part in DLD_PARTS[:2]
            }
        elif own_parts:
            logger.info("Loading a DLD checkpoint holding: %s", ", ".join(parts))
        incompatible = super()._load_model(checkpoint)
        missing = set(incompatible.missing_keys)
        loaded = [k for k in model_keys if k not in missing]
        if not loaded:
            raise CheckpointError(
                f"{self.purpose}={source} matches none of the {len(model_keys)} parameters of "
                f"this {type(self.model).__name__} (its {n_entries} entries: {examples}, ...): it "
                "was made for another model"
            )
        left = [k for k in model_keys if k in missing and not self._optional(k)]
        if left and self.require == "complete":
            raise CheckpointError(
                f"{self.purpose}={source} lacks {len(left)} of the {len(model_keys)} parameters "
                f"of this {type(self.model).__name__} ({_modules(left)}); a complete checkpoint "
                "is needed here"
            )
        if left:
            logger.warning(
                "%s=%s: %d of %d parameters loaded; left at their initialisation: %s",
                self.purpose, source, len(loaded), len(model_keys), _modules(left),
            )
        return incompatible

    def _optional(self, key):
        # Parts a model does not use at inference (a DLD model's teacher) may be absent.
        optional = getattr(self.model, "inference_optional_parts", ())
        return any(key.startswith(p + ".") for p in optional)

    def resume_or_load(self, path, *, resume=True):
        if not (resume and self.has_checkpoint()):
            if self.teacher_weights is not None and isinstance(getattr(self.model, "teacher", None),
                                                               torch.nn.Module):
                self._start_dld_training(path)
            return self.load(path, checkpointables=[])
        last = self.get_checkpoint_file()
        try:
            return self.load(last)
        except (CheckpointError, FileNotFoundError) as e:
            intact = self._newest_intact(exclude=last)
            hint = (f"the newest intact checkpoint is {intact}: write its name "
                    f"({os.path.basename(intact)}) into {os.path.join(self.save_dir, 'last_checkpoint')} "
                    "to resume from it") if intact else "no intact checkpoint was found beside it"
            raise CheckpointError(f"--resume: the last checkpoint cannot be loaded ({e}); {hint}") from None

    def _newest_intact(self, exclude):
        candidates = [p for p in glob.glob(os.path.join(self.save_dir, "*.pth"))
                      if os.path.abspath(p) != os.path.abspath(exclude)]
        for path in sorted(candidates, key=os.path.getmtime, reverse=True):
            try:
                self._torch_load(path)
                return path
            except Exception:
                continue
        return None

    # ------------------------------------------------------------------------------------ saving
    def save(self, name, **kwargs):
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        _atomic_write(save_file, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename):
        _atomic_write(os.path.join(self.save_dir, "last_checkpoint"),
                      lambda f: f.write(last_filename_basename.encode("utf-8")))


def _modules(keys, limit=6):
    """Parameter names grouped by their module two levels deep: 'roi_heads.text_head (12), ...'."""
    groups = {}
    for k in keys:
        head = ".".join(k.split(".")[:2])
        groups[head] = groups.get(head, 0) + 1
    shown = [f"{h} ({n})" for h, n in sorted(groups.items())[:limit]]
    return ", ".join(shown) + (", ..." if len(groups) > limit else "")
