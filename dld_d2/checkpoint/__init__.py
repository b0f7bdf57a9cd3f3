"""Loading and saving weights: data-only unpickling (pure Python), dld_d2's checkpointer and a
trained model built from its config (Detectron2 glue, imported from
`dld_d2.checkpoint.checkpointer` and `dld_d2.checkpoint.trained_model`)."""
from .safe_pickle import UnsafePickleError, load_data_pickle

__all__ = ["UnsafePickleError", "load_data_pickle"]
