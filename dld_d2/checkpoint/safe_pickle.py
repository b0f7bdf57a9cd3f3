"""Unpickling of `.pkl` weight files that admits data only: containers, strings, numbers and
numpy arrays. Detectron2's model-zoo and converted `.pkl` checkpoints hold nothing else; any
other global (a function, a class) in a pickle is refused before it can run."""
import pickle

# The globals that numpy arrays and scalars (and OrderedDicts) need to be rebuilt, under the
# module names that numpy 1.x and 2.x write.
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    ("collections", "OrderedDict"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that names a Python object other than plain data."""


class _DataOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")  # Python 2 pickles (Detectron1 / Caffe2 zoo)
        self._source = source

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source}: refused to unpickle {module}.{name}: weight files may hold only "
            "dicts, lists, strings, numbers and numpy arrays (a .pkl naming other Python objects "
            "could run code)"
        )


def load_data_pickle(path):
    """The data in the pickle file `path`; UnsafePickleError names the file and the refused type."""
    with open(path, "rb") as f:
        return _DataOnlyUnpickler(f, path).load()
