"""DAVAR-Lab-OCR (mmdetection 2.x) checkpoints → dld_d2 state dicts. Pure torch: no Detectron2
import; `tools/convert_davar_checkpoint.py` builds the target model and writes the file.

Three kinds of source (`KINDS`):

- "spotter": DAVAR's `MaskRCNNSpot` (demo/text_spotting/mask_rcnn_spot, the DLD teacher
  `mask_rcnn_pretrain_teacher.py`): `backbone.*`, `neck.*`, `rpn_head.*`, `roi_head.*` and the
  recognition branch `recog_*` → a `TextSpotter` (configs/teacher.yaml).
- "dld": DAVAR's `SpotResolutionDistillation` (demo/text_spotting/dld): `stu.*`, `tea.*` (two
  spotters) and `policy.*` (the resolution selector) → a `DLDSpotter` (`student.*`,
  `teacher.*`, `selector.*`; configs/distill.yaml).
- "mmdet-coco": mmdetection's Mask R-CNN R-50-FPN COCO checkpoint (DAVAR's step-1
  initialisation; mmdet 2.x `roi_head.*` or the 1.x layout with top-level `bbox_head.*` /
  `mask_head.*`) → the class-agnostic part of a `TextSpotter`: backbone, FPN, the RPN's 3×3
  conv, the box head's two FCs and the mask head's convs and deconv. The class-specific tensors
  (80 COCO classes, 3 anchors per location) cannot map onto one text class and six text anchors:
  they are dropped, and the matching dld_d2 predictors and the whole recognition branch stay at
  their initialisation (a partial initialisation, as DAVAR's non-strict `load_from`).

Layout facts the mapping relies on (checked against mmdet 2.x and Detectron2 0.6):
- mmdet's "pytorch" ResNet strides the 3×3 conv: the target needs
  MODEL.RESNETS.STRIDE_IN_1X1 False (`reference_config_mismatches`). `bn1..3` / `downsample.1`
  become `conv1..3.norm` / `shortcut.norm`; mmdet's BatchNorm step counts have no place in
  Detectron2's FrozenBN.
- Box classifier: mmdet 2.x puts background at the last index, as Detectron2 (rows: text,
  background). `fc_reg` with `reg_class_agnostic=False` and one class is 4 outputs, the same
  (dx, dy, dw, dh) order as `bbox_pred`; DAVAR's target stds (0.1, 0.1, 0.2, 0.2) are
  Detectron2's BBOX_REG_WEIGHTS (10, 10, 5, 5).
- RPN: mmdet's base anchors are ratio-major over (ratio, scale) and Detectron2's size-major over
  (size, ratio); with one scale per level both are the ratio order 0.1 … 3.2, and both lay the
  outputs out as (H, W, A) with 4 deltas per anchor, so `rpn_cls` / `rpn_reg` map unchanged.
- Recognition: the module layouts of DAVAR's MaskedRoIExtractor, LightCRNN (`ConvNet` indices),
  CascadeRNN of BidirectionalLSTM (`SequenceModeling.i.rnn` / `.linear`) and AttentionHead
  (`attention_cell.{i2h,h2h,score,rnn}`, `generator`) are kept in dld_d2, so those tensors only
  change prefix. The decoder's 97 classes are DAVAR's [GO], [s] and its 95 characters in file
  order: the target's vocabulary must be that list (its hash is the text head's extra state).
- Selector: DAVAR's `ResolutionSelector` names are kept; its BatchNorm running statistics are
  dropped (dld_d2 normalises each image by its own statistics, docs/method.md, "Differences from
  the paper and the reference code").
"""

import hashlib
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

import torch

from .file_description import describe_file

KINDS = ("spotter", "dld", "mmdet-coco")

#: DAVAR's demo/text_spotting/datalist/character_list.txt (one line), the reference's characters.
DAVAR_CHARACTERS = "0123456789 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ[]+-#$()@=_!?,:;/.%&'\">*|<`{~}^\\"
#: dld_d2's vocabulary hash (`Vocabulary.hash`) of that list.
DAVAR_VOCABULARY_HASH = hashlib.sha1("\n".join(DAVAR_CHARACTERS).encode("utf-8")).hexdigest()

#: A DLD state dict's parts: DAVAR prefix → dld_d2 prefix.
DLD_PREFIXES = {"stu": "student", "tea": "teacher", "policy": "selector"}

_EXTRA_STATE = "roi_heads._extra_state"
_BN_STATS = ("running_mean", "running_var", "num_batches_tracked")

# Reasons for dropped source tensors.
DROP_FROZEN_BN_COUNT = (
    "BatchNorm step count (num_batches_tracked): Detectron2's FrozenBatchNorm2d "
    "keeps none and inference never reads it"
)
DROP_SELECTOR_STATS = (
    "selector BatchNorm running statistics: dld_d2's selector normalises each "
    "image by its own statistics (track_running_stats=False), so it has no place "
    "for them (MODEL.DLD.SELECTOR_NORM running keeps them)"
)
DROP_COCO_CLASSES = (
    "COCO class-specific predictor (80 classes + background): cannot map onto the single text class"
)
DROP_COCO_ANCHORS = (
    "COCO RPN predictor for 3 anchors per location (ratios 0.5, 1, 2): the text "
    "RPN has 6 (ratios 0.1 ... 3.2)"
)

# Target entries that a "mmdet-coco" conversion leaves at their initialisation, with the reason.
_COCO_UNFILLED = (
    (
        re.compile(r"proposal_generator\.rpn_head\.(objectness_logits|anchor_deltas)\."),
        "text RPN predictor (6 anchors): the COCO one has 3",
    ),
    (re.compile(r"roi_heads\.box_predictor\."), "1-class box predictor: COCO's is 80-class"),
    (
        re.compile(r"roi_heads\.mask_head\.predictor\."),
        "1-class mask predictor: COCO's is 80-class",
    ),
    (re.compile(r"roi_heads\.rec_branch\."), "recognition branch: not in a COCO detector"),
    (re.compile(r"roi_heads\._extra_state$"), "vocabulary record of the recognition branch"),
)


class ConversionError(ValueError):
    """A source state dict that cannot become the target's. `problems` lists every finding."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass
class ConversionResult:
    """A converted state dict and how each entry came about.

    state_dict: dld_d2 key → tensor, ready for `{"model": state_dict}`;
    mapped: source key → dld_d2 key; dropped: source key → reason;
    generated: dld_d2 key → how it was made (not from a source tensor);
    unfilled: dld_d2 key → why it is left at initialisation (only "mmdet-coco");
    renamed_prefixes: notes on source prefixes normalised before mapping ("module.", mmdet 1.x).
    """

    kind: str
    state_dict: Dict[str, torch.Tensor]
    mapped: Dict[str, str]
    dropped: Dict[str, str]
    generated: Dict[str, str] = field(default_factory=dict)
    unfilled: Dict[str, str] = field(default_factory=dict)
    renamed_prefixes: List[str] = field(default_factory=list)
    num_source: int = 0
    num_target: int = 0

    def summary(self) -> str:
        lines = [
            f"kind: {self.kind}",
            f"source tensors: {self.num_source} = {len(self.mapped)} mapped + "
            f"{len(self.dropped)} dropped",
            f"target entries: {self.num_target} = {len(self.mapped)} from the source + "
            f"{len(self.generated)} generated + {len(self.unfilled)} left at initialisation",
        ]
        lines += [f"note: {n}" for n in self.renamed_prefixes]
        for key, how in sorted(self.generated.items()):
            lines.append(f"generated {key}: {how}")
        lines += _grouped("dropped", self.dropped)
        lines += _grouped("left at initialisation", self.unfilled)
        return "\n".join(lines)


def _grouped(title: str, reasons: Mapping[str, str], examples: int = 3) -> List[str]:
    by_reason: Dict[str, List[str]] = {}
    for key, reason in reasons.items():
        by_reason.setdefault(reason, []).append(key)
    lines = []
    for reason, keys in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(sorted(keys)[:examples]) + (", ..." if len(keys) > examples else "")
        lines.append(f"{title}: {len(keys)} × {reason} ({shown})")
    return lines


# ------------------------------------------------------------------------------------------ rules
_FIELD = re.compile(r"\{(?P<name>\w+)(?P<offset>[+-]\d+)?\}")


class KeyRule:
    """A DAVAR key template and the dld_d2 key template it fills, read in either direction.

    `{name}` is a field whose DAVAR value matches the regex `fields[name]`; `{name+k}` writes the
    (integer) field shifted by k, so `layer{s}` ↔ `res{s+1}` maps DAVAR's layer1 to res2 and back.
    """

    def __init__(self, davar: str, dld: str, **fields: str):
        self.fields = fields
        self.sides = {"davar": self._compile(davar), "dld": self._compile(dld)}

    def _compile(self, template: str):
        parts, offsets, pos = [], {}, 0
        for m in _FIELD.finditer(template):
            name, offset = m["name"], int(m["offset"] or 0)
            parts.append(re.escape(template[pos:m.start()]))
            value = r"\d+" if offset else f"(?:{self.fields[name]})"  # shifted: checked after
            parts.append(f"(?P<{name}>{value})")
            offsets[name] = offset
            pos = m.end()
        parts.append(re.escape(template[pos:]))
        return re.compile("".join(parts) + r"\Z"), template, offsets

    def convert(self, key: str, source: str, target: str) -> Optional[str]:
        """`key` written as `source` ("davar" or "dld") rewritten as `target`; None if no match."""
        pattern, _, offsets = self.sides[source]
        m = pattern.match(key)
        if m is None:
            return None
        values = {}
        for name, offset in offsets.items():
            value = m[name]
            if offset:
                value = str(int(value) - offset)
                if not re.fullmatch(self.fields[name], value):
                    return None
            values[name] = value
        _, template, target_offsets = self.sides[target]
        return _FIELD.sub(
            lambda f: str(int(values[f["name"]]) + target_offsets[f["name"]])
            if target_offsets[f["name"]]
            else values[f["name"]],
            template,
        )


_P = "weight|bias|running_mean|running_var|num_batches_tracked"
_WB = "weight|bias"
_BLOCK = dict(s="[1-4]", b=r"\d+")
_RES = "backbone.bottom_up.res{s+1}.{b}"

#: DAVAR MaskRCNNSpot key ↔ dld_d2 TextSpotter key.
SPOTTER_RULES: List[KeyRule] = [
    # ResNet-50 ("pytorch" style) ↔ Detectron2's bottom-up ResNet.
    KeyRule("backbone.conv1.weight", "backbone.bottom_up.stem.conv1.weight"),
    KeyRule("backbone.bn1.{p}", "backbone.bottom_up.stem.conv1.norm.{p}", p=_P),
    KeyRule("backbone.layer{s}.{b}.conv{i}.weight", _RES + ".conv{i}.weight", i="[123]", **_BLOCK),
    KeyRule("backbone.layer{s}.{b}.bn{i}.{p}", _RES + ".conv{i}.norm.{p}", i="[123]", p=_P, **_BLOCK),
    KeyRule("backbone.layer{s}.{b}.downsample.0.weight", _RES + ".shortcut.weight", **_BLOCK),
    KeyRule("backbone.layer{s}.{b}.downsample.1.{p}", _RES + ".shortcut.norm.{p}", p=_P, **_BLOCK),
    # FPN (mmdet ConvModule without norm: `.conv`) ↔ Detectron2's FPN; P6 is a max-pool in both.
    KeyRule("neck.lateral_convs.{i}.conv.{p}", "backbone.fpn_lateral{i+2}.{p}", i="[0-3]", p=_WB),
    KeyRule("neck.fpn_convs.{i}.conv.{p}", "backbone.fpn_output{i+2}.{p}", i="[0-3]", p=_WB),
    # RPN.
    KeyRule("rpn_head.rpn_conv.{p}", "proposal_generator.rpn_head.conv.{p}", p=_WB),
    KeyRule("rpn_head.rpn_cls.{p}", "proposal_generator.rpn_head.objectness_logits.{p}", p=_WB),
    KeyRule("rpn_head.rpn_reg.{p}", "proposal_generator.rpn_head.anchor_deltas.{p}", p=_WB),
    # Box head (Shared2FCBBoxHead) and mask head (FCNMaskHead).
    KeyRule("roi_head.bbox_head.shared_fcs.{i}.{p}", "roi_heads.box_head.fc{i+1}.{p}", i="[01]", p=_WB),
    KeyRule("roi_head.bbox_head.fc_cls.{p}", "roi_heads.box_predictor.cls_score.{p}", p=_WB),
    KeyRule("roi_head.bbox_head.fc_reg.{p}", "roi_heads.box_predictor.bbox_pred.{p}", p=_WB),
    KeyRule(
        "roi_head.mask_head.convs.{i}.conv.{p}", "roi_heads.mask_head.mask_fcn{i+1}.{p}", i="[0-3]", p=_WB
    ),
    KeyRule("roi_head.mask_head.upsample.{p}", "roi_heads.mask_head.deconv.{p}", p=_WB),
    KeyRule("roi_head.mask_head.conv_logits.{p}", "roi_heads.mask_head.predictor.{p}", p=_WB),
    # Recognition branch.
    KeyRule(
        "recog_roi_extractor.{m}.{p}", "roi_heads.rec_branch.roi_extractor.{m}.{p}", m="conv|bn", p=_P
    ),
    KeyRule(
        "recog_backbone.ConvNet.{i}.{p}", "roi_heads.rec_branch.encoder.convnet.{i}.{p}", i=r"\d+", p=_P
    ),
    KeyRule(
        "recog_sequence_module.SequenceModeling.{i}.rnn.{p}",
        "roi_heads.rec_branch.sequence.blocks.{i}.rnn.{p}",
        i=r"\d+",
        p=r"(weight|bias)_(ih|hh)_l0(_reverse)?",
    ),
    KeyRule(
        "recog_sequence_module.SequenceModeling.{i}.linear.{p}",
        "roi_heads.rec_branch.sequence.blocks.{i}.linear.{p}",
        i=r"\d+",
        p=_WB,
    ),
    KeyRule(
        "recog_sequence_head.attention_cell.{m}.{p}",
        "roi_heads.rec_branch.decoder.attention_cell.{m}.{p}",
        m="i2h|h2h|score",
        p=_WB,
    ),
    KeyRule(
        "recog_sequence_head.attention_cell.rnn.{p}",
        "roi_heads.rec_branch.decoder.attention_cell.rnn.{p}",
        p=r"(weight|bias)_(ih|hh)",
    ),
    KeyRule("recog_sequence_head.generator.{p}", "roi_heads.rec_branch.decoder.generator.{p}", p=_WB),
]

#: DAVAR ResolutionSelector key (without `policy.`) ↔ dld_d2 ResolutionSelector key (without
#: `selector.`): the same names.
SELECTOR_RULES: List[KeyRule] = [
    KeyRule("{m}.{p}", "{m}.{p}", m="conv1|fc", p=_WB),
    KeyRule("bn1.{p}", "bn1.{p}", p=_P),
    KeyRule("{b}.{m}.{p}", "{b}.{m}.{p}", b="bs[1-4]", m="conv1|conv2|downsample", p=_WB),
    KeyRule("{b}.{m}.{p}", "{b}.{m}.{p}", b="bs[1-4]", m="bn[123]", p=_P),
]


def _apply(rules: Sequence[KeyRule], key: str, source="davar", target="dld") -> Optional[str]:
    for rule in rules:
        found = rule.convert(key, source, target)
        if found is not None:
            return found
    return None


def source_key_for(target_key: str) -> Optional[str]:
    """The DAVAR key that fills a dld_d2 key (TextSpotter or DLDSpotter); None when none does."""
    head, _, rest = target_key.partition(".")
    for davar_head, dld_head in DLD_PREFIXES.items():
        if head == dld_head:
            rules = SELECTOR_RULES if davar_head == "policy" else SPOTTER_RULES
            found = _apply(rules, rest, "dld", "davar")
            return None if found is None else f"{davar_head}.{found}"
    return _apply(SPOTTER_RULES, target_key, "dld", "davar")


def map_spotter_key(key: str) -> Optional[str]:
    """dld_d2 TextSpotter name of a DAVAR MaskRCNNSpot state-dict key; None when unknown."""
    return _apply(SPOTTER_RULES, key)


def map_dld_key(key: str) -> Optional[str]:
    """dld_d2 DLDSpotter name of a DAVAR SpotResolutionDistillation key; None when unknown."""
    head, _, rest = key.partition(".")
    if head in ("stu", "tea"):
        mapped = map_spotter_key(rest)
    elif head == "policy":
        mapped = _apply(SELECTOR_RULES, rest)
    else:
        return None
    return None if mapped is None else f"{DLD_PREFIXES[head]}.{mapped}"


# -------------------------------------------------------------------------------------- loading
def unwrap_checkpoint(obj, source: str = "the checkpoint") -> Dict[str, torch.Tensor]:
    """The state dict of a loaded checkpoint: an mmcv file (`{"state_dict", "meta", ...}`), a
    Detectron2-style `{"model": ...}` or a bare state dict. ConversionError otherwise."""
    if not isinstance(obj, Mapping):
        raise ConversionError(f"{source} holds a {type(obj).__name__}, not a dict of weights")
    for wrapper in ("state_dict", "model"):
        if wrapper in obj and isinstance(obj[wrapper], Mapping):
            obj = obj[wrapper]
            break
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if not obj:
        raise ConversionError(f"{source} holds no weights (an empty state dict)")
    if bad:
        shown = ", ".join(repr(k) for k in bad[:5])
        raise ConversionError(
            f"{source} is not a state dict of tensors: entries {shown}"
            f"{' ...' if len(bad) > 5 else ''} are not (name, tensor) pairs; top-level keys: "
            f"{', '.join(map(str, list(obj)[:8]))}",
            [f"not a tensor: {k!r}" for k in bad],
        )
    return dict(obj)


# numpy objects that mmcv's checkpoint metadata may hold (e.g. a best score from an evaluation
# hook): plain data, admitted by name after torch's weights-only loader refused them.
_NUMPY_DATA_GLOBALS = re.compile(
    r"numpy\.(_?core\.multiarray\.(_reconstruct|scalar)|ndarray|dtype|dtypes\.\w+DType)\Z"
)


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def load_checkpoint_file(path: str) -> Dict[str, torch.Tensor]:
    """The state dict in a DAVAR / mmdetection `.pth` file, read with torch's weights-only
    loader (never an unrestricted unpickling). numpy data in the metadata is admitted by name;
    any other Python object is refused. ConversionError names the file and what is wrong."""
    import importlib
    import os
    import pickle

    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")

    def load():
        return torch.load(path, map_location="cpu", weights_only=True)

    try:
        try:
            obj = load()
        except pickle.UnpicklingError as e:
            if "Weights only load failed" not in str(e):
                raise
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            refused = [n for n in names if not _NUMPY_DATA_GLOBALS.match(n)]
            if refused:
                raise ConversionError(
                    f"{path}: refused to load: it holds Python objects beyond tensors and plain "
                    f"data ({', '.join(refused[:5])}), which could run code. Re-save its state "
                    "dict (torch.save({'state_dict': model.state_dict()}, path)) from a trusted "
                    "session"
                ) from None
            allowed = []
            for n in names:
                module, _, attr = n.rpartition(".")
                allowed.append(getattr(importlib.import_module(module), attr))
            if names:  # numpy scalars rebuild their dtype through its class (not listed above)
                dtypes = (
                    importlib.import_module("numpy.dtypes") if _has_module("numpy.dtypes") else None
                )
                allowed += [
                    getattr(dtypes, a) for a in dir(dtypes or object()) if a.endswith("DType")
                ]
            try:
                with torch.serialization.safe_globals(allowed):
                    obj = load()
            except pickle.UnpicklingError as e2:
                raise ConversionError(
                    f"{path}: refused to load: torch's weights-only loader rejects an object in it "
                    f"({str(e2).split('error:', 1)[-1].strip().splitlines()[0][:160]})"
                ) from None
    except ConversionError:
        raise
    except Exception as e:  # torch raises several types for files it cannot read
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(
            f"{path} is not a readable PyTorch checkpoint: {describe_file(path)} "
            f"({type(e).__name__}: {reason[:200]})"
        ) from None
    return unwrap_checkpoint(obj, path)


def detect_kind(state_dict: Mapping[str, torch.Tensor], source: str = "the checkpoint") -> str:
    """ "spotter", "dld" or "mmdet-coco" from the key names; ConversionError when none fits."""
    keys = [k[len("module.") :] if k.startswith("module.") else k for k in state_dict]
    heads = {k.split(".", 1)[0] for k in keys}
    if heads & {"stu", "tea", "policy"}:
        return "dld"
    if any(h.startswith("recog_") for h in heads):
        return "spotter"
    if "backbone" in heads and heads & {"roi_head", "bbox_head", "mask_head", "rpn_head"}:
        return "mmdet-coco"
    raise ConversionError(
        f"{source}: cannot tell which DAVAR/mmdetection model this is (top-level names: "
        f"{', '.join(sorted(heads)[:10])}); expected recog_* (a DAVAR spotter), stu./tea./policy. "
        "(a DAVAR DLD model) or backbone/neck/rpn_head/roi_head without recognition (an "
        "mmdetection Mask R-CNN); pass --kind to say which"
    )


# ------------------------------------------------------------------------------------ conversion
def _normalise_source(state_dict, kind):
    """(tensors under normalised names, normalised name → the file's name, notes)."""
    notes = []
    origin = {k: k for k in state_dict}
    if any(k.startswith("module.") for k in origin):
        origin = {
            (k[len("module.") :] if k.startswith("module.") else k): o for k, o in origin.items()
        }
        notes.append("stripped the 'module.' prefix of a (Distributed)DataParallel save")
    if kind == "mmdet-coco" and any(k.startswith(("bbox_head.", "mask_head.")) for k in origin):
        origin = {
            ("roi_head." + k if k.startswith(("bbox_head.", "mask_head.")) else k): o
            for k, o in origin.items()
        }
        notes.append(
            "mmdetection 1.x layout: top-level bbox_head./mask_head. read as "
            "roi_head.bbox_head./roi_head.mask_head. (DAVAR's non-strict load_from of "
            "such a file skips them)"
        )
    if len(origin) != len(state_dict):
        raise ConversionError(
            "the checkpoint holds the same tensor name with and without a "
            "prefix ('module.', or mmdetection 1.x head names)"
        )
    return {k: state_dict[o] for k, o in origin.items()}, origin, notes


def _coco_drop_reason(key: str) -> Optional[str]:
    if re.match(r"(.*\.)?rpn_head\.rpn_(cls|reg)\.", key):
        return DROP_COCO_ANCHORS
    if re.match(r"(.*\.)?roi_head\.(bbox_head\.fc_(cls|reg)|mask_head\.conv_logits)\.", key):
        return DROP_COCO_CLASSES
    return None


def _target_kind(target_keys) -> str:
    return "dld" if any(k.startswith(("teacher.", "student.")) for k in target_keys) else "spotter"


def _decode_extra_state(value) -> Optional[str]:
    try:
        return bytes(torch.as_tensor(value).tolist()).decode("ascii")
    except (TypeError, ValueError, UnicodeDecodeError):
        return None


def _show(items: Sequence[str], limit: int = 8) -> str:
    return "; ".join(items[:limit]) + (
        f"; ... ({len(items) - limit} more)" if len(items) > limit else ""
    )


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    kind: str = "auto",
    source: str = "the checkpoint",
) -> ConversionResult:
    """Map a DAVAR / mmdetection state dict onto the dld_d2 model whose state dict is `target`.

    Every source tensor is mapped (name and shape checked against `target`) or dropped with a
    reason; every target entry is filled (by a source tensor, or generated: the text head's
    vocabulary record) — except, for "mmdet-coco", the listed class-specific predictors and the
    recognition branch. Anything else is a ConversionError naming the keys (and shapes).
    """
    if kind == "auto":
        kind = detect_kind(state_dict, source)
    if kind not in KINDS:
        raise ConversionError(f"unknown kind {kind!r}; expected one of {KINDS} or 'auto'")
    want = "dld" if kind == "dld" else "spotter"
    have = _target_kind(target)
    if want != have:
        what = {
            "dld": "a DLDSpotter (configs/distill.yaml)",
            "spotter": "a TextSpotter (configs/teacher.yaml)",
        }
        raise ConversionError(
            f"{source} is a {kind!r} checkpoint, which converts into {what[want]}; the target "
            f"model is {what[have]}: use a config of the right META_ARCHITECTURE"
        )
    src, origin, notes = _normalise_source(state_dict, kind)
    mapper = map_dld_key if kind == "dld" else map_spotter_key

    out: Dict[str, torch.Tensor] = {}
    mapped: Dict[str, str] = {}
    dropped: Dict[str, str] = {}
    unknown: List[str] = []
    problems: List[str] = []
    for norm_key, value in src.items():
        key = origin[norm_key]  # reports name the file's keys
        if kind == "mmdet-coco":
            reason = _coco_drop_reason(norm_key)
            if reason:
                dropped[key] = reason
                continue
        new = mapper(norm_key)
        if new is None:
            unknown.append(key)
            continue
        if new not in target:
            stat = new.rsplit(".", 1)[-1]
            owner = new.rsplit(".", 1)[0] + ".weight"
            if stat in _BN_STATS and owner in target:
                if new.startswith("selector."):
                    dropped[key] = DROP_SELECTOR_STATS
                elif stat == "num_batches_tracked":
                    dropped[key] = DROP_FROZEN_BN_COUNT
                else:
                    dropped[key] = f"BatchNorm {stat}: the target's norm layer keeps none"
                continue
            problems.append(f"{key} maps to {new}, which the target model lacks")
            continue
        if new in out:
            first = next(k for k, v in mapped.items() if v == new)
            problems.append(f"{key} and {first} both map to {new}")
            continue
        want_shape = tuple(target[new].shape)
        if tuple(value.shape) != want_shape:
            problems.append(f"shape mismatch: {key} {tuple(value.shape)} → {new} {want_shape}")
            continue
        tgt = target[new]
        if value.dtype != tgt.dtype and value.is_floating_point() and tgt.is_floating_point():
            value = value.to(tgt.dtype)
        elif value.dtype != tgt.dtype:
            problems.append(f"dtype mismatch: {key} {value.dtype} → {new} {tgt.dtype}")
            continue
        out[new] = value.detach().clone()
        mapped[key] = new

    if unknown:
        problems.insert(
            0,
            f"{len(unknown)} source key(s) of no known layer: {', '.join(unknown[:8])}"
            f"{', ...' if len(unknown) > 8 else ''}",
        )

    generated: Dict[str, str] = {}
    unfilled: Dict[str, str] = {}
    missing: List[str] = []
    for key in target:
        if key in out:
            continue
        bare = key.split(".", 1)[1] if key.startswith(("teacher.", "student.")) else key
        if kind == "mmdet-coco":
            why = next((w for p, w in _COCO_UNFILLED if p.match(bare)), None)
            if why:
                unfilled[key] = why
                continue
        if bare == _EXTRA_STATE:
            saved = _decode_extra_state(target[key])
            if saved != DAVAR_VOCABULARY_HASH:
                problems.append(
                    f"{key}: the target model's vocabulary (hash {saved}) is not DAVAR's 95-character "
                    f"list (hash {DAVAR_VOCABULARY_HASH}) that the reference decoder's "
                    f"{len(DAVAR_CHARACTERS) + 2} classes stand for: leave MODEL.TEXT_HEAD.VOCABULARY "
                    "empty (the built-in list is DAVAR's)"
                )
                continue
            out[key] = torch.as_tensor(target[key]).clone()
            generated[key] = "vocabulary record: DAVAR's character list (the reference's classes)"
            continue
        missing.append(key)
    named = [f"{k} (from {source_key_for(k)})" if source_key_for(k) else k for k in missing]
    if missing:
        problems.append(
            f"{len(missing)} target entr{'y' if len(missing) == 1 else 'ies'} not filled "
            f"by {source}: {', '.join(named[:10])}{', ...' if len(missing) > 10 else ''}"
        )
    if problems:
        raise ConversionError(
            f"{source} ({kind}) does not convert into the target model: {_show(problems)}",
            problems + [f"missing: {k}" for k in named] + [f"unknown: {k}" for k in unknown],
        )
    return ConversionResult(
        kind=kind,
        state_dict=out,
        mapped=mapped,
        dropped=dropped,
        generated=generated,
        unfilled=unfilled,
        renamed_prefixes=notes,
        num_source=len(src),
        num_target=len(target),
    )


# ------------------------------------------------------------------------------ config checks
#: What the reference spotter's config (mask_rcnn_spot/__base__.py) fixes that a state dict does not
#: show, as (dotted config key, expected value).
REFERENCE_CONFIG = (
    ("MODEL.RESNETS.DEPTH", 50),
    ("MODEL.RESNETS.STRIDE_IN_1X1", False),  # mmdet style="pytorch": stride on the 3x3 conv
    ("MODEL.RESNETS.NUM_GROUPS", 1),
    ("MODEL.RESNETS.RES5_DILATION", 1),
    ("MODEL.ANCHOR_GENERATOR.SIZES", [[32], [64], [128], [256], [512]]),  # scales=[8] x strides
    ("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", [[0.1, 0.2, 0.4, 0.8, 1.6, 3.2]]),
    ("MODEL.ANCHOR_GENERATOR.OFFSET", 0.0),  # mmdet 2.x center_offset=0
    ("MODEL.RPN.BBOX_REG_WEIGHTS", [1.0, 1.0, 1.0, 1.0]),
    ("MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS", [10.0, 10.0, 5.0, 5.0]),  # target_stds 0.1 0.1 0.2 0.2
    ("MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION", 7),
    ("MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION", 14),
    ("MODEL.PIXEL_MEAN", [123.675, 116.28, 103.53]),
    ("MODEL.PIXEL_STD", [58.395, 57.12, 57.375]),
    ("INPUT.FORMAT", "RGB"),  # to_rgb=True
)


def _get(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def reference_config_mismatches(cfg) -> List[str]:
    """Settings of a dld_d2 config (attribute access, e.g. a CfgNode) where a converted model
    would compute something else than the reference with the same weights."""
    out = []
    for dotted, expected in REFERENCE_CONFIG:
        try:
            value = _get(cfg, dotted)
        except AttributeError:
            out.append(f"{dotted} is missing (expected {expected!r})")
            continue
        if _plain(value) != _plain(expected):
            out.append(f"{dotted} is {value!r}; the reference uses {expected!r}")
    return out
