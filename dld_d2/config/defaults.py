"""dld_d2's config keys, added to a Detectron2 config by `add_dld_config`."""
from detectron2.config import CfgNode as CN


def add_dld_config(cfg):
    """Add dld_d2's keys (MODEL.TEXT_HEAD, INPUT.TEXT) with their defaults to `cfg`, in place."""
    # ---------------------------------------------------------------------------------------------
    # Recognition branch (and the text targets it reads)
    # ---------------------------------------------------------------------------------------------
    cfg.MODEL.TEXT_HEAD = CN()
    # The recognizer, by its name in TEXT_HEAD_REGISTRY (dld_d2/modeling/text_head.py): the
    # paper's masked-RoI / LightCRNN / BiLSTM / attention branch by default.
    cfg.MODEL.TEXT_HEAD.NAME = "AttentionRecognitionHead"
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
    # Width W of the 8×W masked RoI feature the branch reads (32 in the paper); the encoder gives
    # W + 1 sequence positions, so a wider RoI keeps more columns per character of long words.
    cfg.MODEL.TEXT_HEAD.ROI_WIDTH = 32
    # s > 1: the crop is sampled bilinearly at s× that size and averaged over s×s cells, so crops
    # shrunk more than 2× (large text) read every P2 cell; 1 = plain bilinear (the paper).
    cfg.MODEL.TEXT_HEAD.ROI_SUPERSAMPLE = 1
    # The mask pixel each P2 cell of the masked RoI reads: "aligned" (its own first pixel) or
    # "reference" (the reference code's nearest resize, which drifts where an image side is not
    # a multiple of 4): for models converted from it (docs/method.md, "Masked RoI features").
    cfg.MODEL.TEXT_HEAD.MASK_GRID = "aligned"
    # The recognition branch's learning rate as a multiple of SOLVER.BASE_LR (also multiplies
    # its bias LR factor; same schedule). A float on the command line (2.0, not 2).
    cfg.MODEL.TEXT_HEAD.LR_FACTOR = 1.0
    # Weight of the recognition loss `loss_att`.
    cfg.MODEL.TEXT_HEAD.LOSS_WEIGHT = 1.0
    # Decoding at inference: 1 = greedy, > 1 = beam search of that width.
    cfg.MODEL.TEXT_HEAD.BEAM_WIDTH = 1
    # How inference reads: "attention" (the paper's decoder), "ctc" (the auxiliary CTC head's
    # best path: no pull toward the training words) or "joint" (per word, the better of the two
    # texts scored by both). "ctc" and "joint" need a model trained with AUX_CTC_WEIGHT > 0.
    cfg.MODEL.TEXT_HEAD.DECODER = "attention"
    # "joint" only: the CTC log-probability's share of the score (the attention's is 1 - this).
    cfg.MODEL.TEXT_HEAD.JOINT_CTC_WEIGHT = 0.5
    # Training only: extra copies of every GT word given to the recognition loss, their boxes
    # jittered by up to TRAIN_JITTER_RATIO of the box size per side. More recognition samples
    # per image for little compute (CPU configs); 0 = the paper's recipe.
    cfg.MODEL.TEXT_HEAD.TRAIN_JITTER_COPIES = 0
    cfg.MODEL.TEXT_HEAD.TRAIN_JITTER_RATIO = 0.1
    # Weight of an auxiliary CTC loss (`loss_ctc`) on the BiLSTM context features, through a
    # linear per-position classifier (read at inference only with DECODER ctc/joint). It gives
    # the encoder a per-position signal before the attention decoder has learnt to align
    # (joint CTC-attention training; CPU configs). 0 = the paper's recipe.
    cfg.MODEL.TEXT_HEAD.AUX_CTC_WEIGHT = 0.0
    # Training only: train the backbone and the recognition branch alone on the GT words (the
    # RPN and box/mask heads frozen and skipped): a warm-up of the reader on word sheets
    # (`dld_synthetic_words_train`) whose checkpoint starts joint training (docs/method.md).
    cfg.MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY = False

    # ---------------------------------------------------------------------------------------------
    # Dynamic Low-Resolution Distillation (META_ARCHITECTURE "DLDSpotter"), docs/method.md
    # ---------------------------------------------------------------------------------------------
    cfg.MODEL.DLD = CN()
    # Checkpoint of a trained TextSpotter: loaded into the frozen teacher and, as its
    # initialisation, into the student when training starts (TextSpotterCheckpointer; not on a
    # resume). MODEL.WEIGHTS (a DLD checkpoint, or a plain spotter checkpoint, which then loads
    # into both) is loaded after it.
    cfg.MODEL.DLD.TEACHER_WEIGHTS = ""
    # Candidate down-sampling factors of the short side of the teacher-view image.
    cfg.MODEL.DLD.SCALES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    # How the student's scale is chosen: "learned" (the resolution selector, DLD), "fixed"
    # (always FIXED_SCALE: the fixed-low-scale baseline, no selector) or "random" (a uniformly
    # random candidate per image, the reference code's no-selector ablation).
    cfg.MODEL.DLD.SCALE_POLICY = "learned"
    # The factor used by SCALE_POLICY "fixed".
    cfg.MODEL.DLD.FIXED_SCALE = 0.5
    # The selector (SCALE_POLICY "learned"), by its name in SELECTOR_REGISTRY
    # (dld_d2/modeling/dld/selector_registry.py): the paper's small ResNet by default.
    cfg.MODEL.DLD.SELECTOR_NAME = "ResNetResolutionSelector"
    # Channel widths of the selector's stem and four residual blocks (the paper's network).
    cfg.MODEL.DLD.SELECTOR_WIDTHS = (32, 32, 64, 128, 256)
    # How the selector's BatchNorm normalises: "per_image" (each image by its own statistics, in
    # training and at test) or "running" (the reference code's running averages at test, kept
    # from training on one image at a time): for models converted from it (docs/method.md).
    cfg.MODEL.DLD.SELECTOR_NORM = "per_image"
    # Gumbel-softmax temperature at epoch e: TAU0 * TAU_DECAY ** e (constant within an epoch),
    # set before each step by train_net.py's GumbelTemperatureHook (docs/method.md,
    # "Temperature and penalty").
    cfg.MODEL.DLD.TAU0 = 5.0
    cfg.MODEL.DLD.TAU_DECAY = 0.965
    # Iterations per epoch for the temperature; 0 = ceil(#images of the trainer's training loader /
    # SOLVER.IMS_PER_BATCH).
    cfg.MODEL.DLD.ITERS_PER_EPOCH = 0
    # γ of the cost penalty γ · mean_b Σ_i cost_i · h_b,i (0.1 and 0.3 in the paper's models).
    cfg.MODEL.DLD.PENALTY_WEIGHT = 0.1
    # cost_i = scale_i ** PENALTY_EXPONENT (the reference code) unless PENALTY_COSTS gives one
    # relative cost per scale (the paper's FLOPs-table form, e.g. GFLOPs / teacher GFLOPs).
    cfg.MODEL.DLD.PENALTY_EXPONENT = 1.5
    cfg.MODEL.DLD.PENALTY_COSTS = ()
    # Selector objective, by its name in SELECTOR_LOSS_REGISTRY (dld_d2/modeling/dld/objectives/):
    # "ce" (the code: CE to the GT text of the decision-weighted student logits), "kl" (the paper:
    # KL from the teacher's distributions), both with the penalty as a second loss; or "best"
    # (not in the paper): the selector's cross-entropy to each image's decision that minimises
    # the "ce" loss plus the penalty, found from the same per-scale passes (docs/method.md,
    # "Selector objectives"). Then the weight of `loss_rs`.
    cfg.MODEL.DLD.SELECTOR_LOSS = "ce"
    cfg.MODEL.DLD.SELECTOR_LOSS_WEIGHT = 1.0
    # With SELECTOR_LOSS "best": how many images of earlier steps (the teacher-view image and the
    # best-scale target it got then) the selector trains on besides the current batch, so that
    # it sees more images per step than SOLVER.IMS_PER_BATCH (not in the paper; 0: none).
    cfg.MODEL.DLD.SELECTOR_REPLAY = 0
    # How many earlier images are kept to draw the SELECTOR_REPLAY ones from, at random each
    # step (0: SELECTOR_REPLAY, i.e. always the latest). Kept in half precision: 200 views at
    # S-448 ≤ 800 take 0.4 GB.
    cfg.MODEL.DLD.SELECTOR_REPLAY_BANK = 0
    # The selector's learning rate as a multiple of SOLVER.BASE_LR (it trains from scratch while
    # the student only adapts); also multiplies its bias LR factor, and follows the same schedule.
    # A float on the command line too (30.0, not 30: yacs refuses an int for a float key).
    cfg.MODEL.DLD.SELECTOR_LR_FACTOR = 1.0
    # Test-time decision: "argmax" (deterministic) or "sample" (the reference code's τ=1 draw).
    cfg.MODEL.DLD.TEST_SELECTION = "argmax"
    # Long-side caps of the student's low-resolution view in training and at test (docs/method.md,
    # "Low-resolution views").
    cfg.MODEL.DLD.TRAIN_MAX_SIZE = 1600
    cfg.MODEL.DLD.TEST_MAX_SIZE = 3000
    # Distillation of the recognition branch: sequence KD over the teacher's top-k beam paths,
    # and L2 on the RoI and context features.
    cfg.MODEL.DLD.KD_SEQ_WEIGHT = 1.0
    cfg.MODEL.DLD.KD_SEQ_TOPK = 1
    cfg.MODEL.DLD.KD_SEQ_BEAM_WIDTH = 5
    cfg.MODEL.DLD.KD_ROI_WEIGHT = 1.0
    cfg.MODEL.DLD.KD_CONTEXT_WEIGHT = 1.0
    # Weight of the student's own and distillation losses at the teacher view itself, computed
    # each step beside those at the chosen scales (not in the paper; 0: off): docs/method.md.
    cfg.MODEL.DLD.VIEW_LOSS_WEIGHT = 0.0

    # ---------------------------------------------------------------------------------------------
    # Solver
    # ---------------------------------------------------------------------------------------------
    # "SGD" (Detectron2's default) or "ADAMW" (the paper). With SOLVER.CLIP_GRADIENTS.CLIP_TYPE
    # "full_model" the global gradient norm of the whole model is clipped to CLIP_VALUE.
    cfg.SOLVER.OPTIMIZER = "SGD"

    # Mixed-dataset training: one sampling weight per DATASETS.TRAIN entry; empty = plain
    # concatenation (each image equally likely, as the DLD code does).
    cfg.DATALOADER.DATASET_RATIOS = ()

    # ---------------------------------------------------------------------------------------------
    # Text-safe training augmentations (applied before INPUT.MIN_SIZE_TRAIN's resize), as the paper's
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
    # Count each test image's inference GFLOPs (fvcore's count, taken as the model runs and
    # checked against a trace now and then) so that the evaluator reports mean_gflops.
    cfg.TEST.TEXT.COUNT_FLOPS = False
