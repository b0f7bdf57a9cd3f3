"""Loading and saving weights: data-only unpickling (pure Python) and dld_d2's checkpointer
(Detectron2 glue, imported from `dld_d2.checkpoint.checkpointer`)."""
from .safe_pickle import UnsafePickleError, load_data_pickle

__all__ = ["UnsafePickleError", "load_data_pickle"]
