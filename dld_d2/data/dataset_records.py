"""The dicts of a registered dataset, with one clear error for a name that is not registered or
a loader that fails (Detectron2 glue shared by the tools)."""
import difflib


class DatasetLoadError(ValueError):
    """A dataset that is not registered, or whose registered loader failed."""


def dataset_records(name: str, num_images: int = 0):
    """The dicts of registered dataset `name`, the first `num_images` of them (0: all).

    Raises DatasetLoadError naming the dataset when it is not registered or its loader fails
    (a missing annotation file, say), instead of the loader's bare traceback.
    """
    from detectron2.data import DatasetCatalog

    if name not in DatasetCatalog.list():
        raise DatasetLoadError(f"dataset {name!r} is not registered; " + _suggestions(name))
    try:
        records = DatasetCatalog.get(name)
    except Exception as e:  # the loader's own error, whatever its type
        raise DatasetLoadError(
            f"dataset {name!r} could not be loaded: {type(e).__name__}: {e}"
        ) from e
    return records[:num_images] if num_images else records


def _suggestions(name: str) -> str:
    """The registered names close to `name`, else the registered text-spotting datasets."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    names = DatasetCatalog.list()
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(map(repr, close)) + "?"
    text = sorted(n for n in names if MetadataCatalog.get(n).get("evaluator_type") == "text_spotting")
    return f"the registered text-spotting datasets are: {', '.join(text)}"
