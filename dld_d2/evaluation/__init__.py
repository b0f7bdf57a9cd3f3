"""Evaluation: the ICDAR end-to-end / word-spotting protocol, lexicons and submission zips.

Pure Python (numpy, shapely, rapidfuzz); importing this package never imports detectron2.
Imported from their modules: the evaluator run inside training (`text_evaluator`, Detectron2
glue), fvcore GFLOPs of the inference path (`flops`, torch) and the measurement tools' json and
markdown reports (`reports`).
"""
from .lexicon import (
    LEXICON_KINDS,
    Lexicon,
    LexiconError,
    LexiconReport,
    apply_lexicon,
    load_lexicon,
    load_lexicons,
    load_strong_lexicons,
)
from .protocol import (
    SPECIAL_CHARACTERS_DAVAR,
    SPECIAL_CHARACTERS_RRC,
    Detection,
    EvaluationResult,
    GTInstance,
    ImageResult,
    ProtocolConfig,
    UnknownImageError,
    evaluate,
    evaluate_image,
    iou_matrix,
    polygon_area,
    transcription_match,
    word_spotting_eligible,
    word_spotting_transform,
)
from .submission import (
    SubmissionFormatError,
    WriteReport,
    gt_from_dataset_dicts,
    name_patterns,
    prepare_predictions,
    read_gt_zip,
    read_submission_zip,
    sanitize_polygon,
    write_submission_zip,
)

__all__ = [
    "LEXICON_KINDS", "Lexicon", "LexiconError", "LexiconReport", "apply_lexicon", "load_lexicon",
    "load_lexicons", "load_strong_lexicons", "SPECIAL_CHARACTERS_DAVAR", "SPECIAL_CHARACTERS_RRC",
    "Detection", "EvaluationResult", "GTInstance", "ImageResult", "ProtocolConfig", "UnknownImageError", "evaluate",
    "evaluate_image", "iou_matrix", "polygon_area", "transcription_match", "word_spotting_eligible",
    "word_spotting_transform", "SubmissionFormatError", "WriteReport", "gt_from_dataset_dicts",
    "name_patterns", "prepare_predictions", "read_gt_zip", "read_submission_zip", "sanitize_polygon", "write_submission_zip",
]
