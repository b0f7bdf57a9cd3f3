"""The recognition branch of the text spotter, in pure torch (no Detectron2 import).

P2 → masked RoI features (N×C×8×W, W = 32 in the paper) → LightCRNN → 2×BiLSTM context
(N×(W+1)×C) → attention decoder (N×T×classes), and its losses (docs/method.md, "Architecture"
and "Masked RoI features"). Detectron2 builds it through `dld_d2.modeling.text_head`.
"""
from ...data.vocabulary import EOS_ID, GO_ID  # re-exported: the token ids of the decoded texts
from .attention_decoder import AttentionCell, AttentionDecoder, DecodedText, decode_greedy
from .beam_search import beam_search_fixed_rows
from .branch import DECODERS, RecognitionBranch, RecognitionOutputs
from .ctc_decoding import ctc_greedy, ctc_sequence_log_prob
from .encoder import SEQUENCE_LENGTH, LightCRNN
from .losses import ctc_loss, recognition_loss
from .masked_roi import FEATURE_STRIDE, ROI_SIZE, MaskedRoIExtractor, masked_roi_features
from .sequence import BidirectionalLSTM, SequenceModule
from .weight_init import init_recognition_weights

__all__ = [
    "AttentionCell",
    "AttentionDecoder",
    "BidirectionalLSTM",
    "DECODERS",
    "DecodedText",
    "EOS_ID",
    "FEATURE_STRIDE",
    "GO_ID",
    "LightCRNN",
    "MaskedRoIExtractor",
    "ROI_SIZE",
    "RecognitionBranch",
    "RecognitionOutputs",
    "SEQUENCE_LENGTH",
    "SequenceModule",
    "beam_search_fixed_rows",
    "ctc_greedy",
    "ctc_loss",
    "ctc_sequence_log_prob",
    "decode_greedy",
    "init_recognition_weights",
    "masked_roi_features",
    "recognition_loss",
]
