"""dld_d2's config keys, added to a Detectron2 config by `add_dld_config`."""
from detectron2.config import CfgNode as CN


def add_dld_config(cfg):
    """Add dld_d2's keys (MODEL.TEXT_HEAD, INPUT.TEXT) with their defaults to `cfg`, in place."""
    # ---------------------------------------------------------------------------------------------
    # Recognition branch (and the text targets it reads)
    # ---------------------------------------------------------------------------------------------
    cfg.MODEL.TEXT_HEAD = CN()
    # Character set: "" = the built-in 95-character Latin set (dld_d2/data/character_list.txt);
    # otherwise a UTF-8 file with one character per line. Ids: 0 = GO/pad, 1 = EOS, 2.. = chars.
    cfg.MODEL.TEXT_HEAD.VOCABULARY = ""
    # Longest transcription used as a recognition target; longer ones are don't-care
    # (iscrowd=1) at loading. The decoder runs MAX_TEXT_LEN + 1 steps.
    cfg.MODEL.TEXT_HEAD.MAX_TEXT_LEN = 32
    # The stride-4 feature map the branch reads (P2 of the FPN).
    cfg.MODEL.TEXT_HEAD.IN_FEATURE = "p2"
    # Width of the branch: RoI conv, LightCRNN, BiLSTM and decoder (256 in the paper; smaller
    # widths make CPU training practical).
    cfg.MODEL.TEXT_HEAD.CONV_DIM = 256
    # Weight of the recognition loss `loss_att`.
    cfg.MODEL.TEXT_HEAD.LOSS_WEIGHT = 1.0
    # Decoding at inference: 1 = greedy, > 1 = beam search of that width.
    cfg.MODEL.TEXT_HEAD.BEAM_WIDTH = 1
    # Training only: extra copies of every GT word given to the recognition loss, their boxes
    # jittered by up to TRAIN_JITTER_RATIO of the box size per side. More recognition samples
    # per image for little compute (CPU configs); 0 = the paper's recipe.
    cfg.MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES = 0
    cfg.MODEL.TEXT_HEAD.TRAIN_JITTER_RATIO = 0.1

    # ---------------------------------------------------------------------------------------------
    # Solver
    # ---------------------------------------------------------------------------------------------
    # "SGD" (Detectron2's default) or "ADAMW" (DLD_SPEC §4). With SOLVER.CLIP_GRADIENTS.CLIP_TYPE
    # "full_model" the global gradient norm of the whole model is clipped to CLIP_VALUE.
    cfg.SOLVER.OPTIMIZER = "SGD"

    # Mixed-dataset training: one sampling weight per DATASETS.TRAIN entry; empty = plain
    # concatenation (each image equally likely, as the DLD code does).
    cfg.DATALOADER.DATASET_RATIOS = ()

    # ---------------------------------------------------------------------------------------------
    # Text-safe training augmentations (applied before INPUT.MIN_SIZE_TRAIN's resize), DLD_SPEC §4.2
    # ---------------------------------------------------------------------------------------------
    cfg.INPUT.TEXT = CN()
    cfg.INPUT.TEXT.COLOR_JITTER = CN()
    # Photometric jitter before the geometric augmentations.
    cfg.INPUT.TEXT.COLOR_JITTER.ENABLED = True
    # Brightness factor range (torchvision brightness 32/255 ≈ factor in [0.875, 1.125]).
    cfg.INPUT.TEXT.COLOR_JITTER.BRIGHTNESS = (0.875, 1.125)
    # Saturation factor range (torchvision saturation 0.5 = factor in [0.5, 1.5]).
    cfg.INPUT.TEXT.COLOR_JITTER.SATURATION = (0.5, 1.5)

    cfg.INPUT.TEXT.CROP = CN()
    # Random crop whose edges never cut a text instance; instances outside it are dropped.
    cfg.INPUT.TEXT.CROP.ENABLED = True
    # Each side of the crop is at least this fraction of the image side.
    cfg.INPUT.TEXT.CROP.MIN_SIZE_RATIO = 0.1
    # Attempts before falling back to the whole image.
    cfg.INPUT.TEXT.CROP.MAX_TRIES = 50

    cfg.INPUT.TEXT.ROTATE = CN()
    # Random rotation with the canvas expanded to hold the whole image; polygons rotate exactly.
    cfg.INPUT.TEXT.ROTATE.ENABLED = True
    # Angles are drawn uniformly from [-MAX_ANGLE, MAX_ANGLE] degrees.
    cfg.INPUT.TEXT.ROTATE.MAX_ANGLE = 15.0

    # ---------------------------------------------------------------------------------------------
    # Text-spotting evaluation (TextSpottingEvaluator). The detection score threshold is the
    # model's own, MODEL.ROI_HEADS.SCORE_THRESH_TEST: one threshold for model and evaluator.
    # ---------------------------------------------------------------------------------------------
    cfg.TEST.TEXT = CN()
    # IoU above which a detection matches a GT polygon (strictly greater, as the ICDAR scripts).
    cfg.TEST.TEXT.IOU_THRESH = 0.5
    # Lexicons to score with, among "none", "generic", "weak", "strong", "full". Empty = "none"
    # plus every lexicon the dataset's metadata lists; a listed lexicon file that is missing is
    # an error when the evaluator is built.
    cfg.TEST.TEXT.LEXICONS = ()
    # How a lexicon corrects a word: "davar" (nearest entry, never dropped; the paper's rule) or
    # "pairs" (AdelaiDet/TESTR pair lists: dropped beyond edit distance 1).
    cfg.TEST.TEXT.LEXICON_RULE = "davar"
    # Also score word spotting (care words of >= 3 letters only) besides end-to-end.
    cfg.TEST.TEXT.WORD_SPOTTING = True
