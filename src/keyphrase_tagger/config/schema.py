"""What each key of the configs under ``configs/`` takes: types and ranges, one dataclass per group.

The values themselves live in the YAML files; these classes are never instantiated, only read by
:func:`keyphrase_tagger.config.checking.check_fields`. A test checks every shipped config against
them, so a key added to a YAML file needs its line here.

Rules that span keys or need the data live with the code that applies them and are called from
:mod:`keyphrase_tagger.config.validate`: ``data.window`` (``windows.check_window``),
``data.split`` (``data.splits.check_ratios`` / ``check_folds``), the keys each ``decision.kind``
reads (``decision.fit.check_decision``), ``optimized_metric`` (``training.run_record``), the ``trainer``
group (``training.arguments``); the choices of ``data.on_missing_phrase``, ``data.overlap``, ``split``
and ``format`` are checked where they are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from keyphrase_tagger.checkpoint import HEADS
from keyphrase_tagger.config.checking import bounded
from keyphrase_tagger.decision.candidates import GROUPS
from keyphrase_tagger.decision.fit import DECISION_KINDS, RESCORE_MODELS
from keyphrase_tagger.inference.precision import PRECISIONS
from keyphrase_tagger.training.arguments import TRAINER_BOUNDS
from keyphrase_tagger.training.pretrain import PRETRAIN_TEXTS

Device = str | int  # "auto", "cpu", "cuda:1", or a CUDA index; judged by extractor.resolve_device


@dataclass
class CleaningSchema:
    strip_chars: str | None
    min_chars: int = bounded(ge=0)
    stop_phrases: list[str] | None


@dataclass
class SplitSchema:
    seed: int
    ratios: Any  # data.splits.check_ratios
    kfold: Any  # data.splits.check_folds
    fold: Any


@dataclass
class WindowSchema:
    max_chars: int  # ranges: windows.check_window
    stride: int


@dataclass
class DataSchema:
    corpus_path: Path
    processed_dir: Path
    on_missing_phrase: str
    overlap: str
    cleaning: CleaningSchema
    split: SplitSchema
    window: WindowSchema
    max_documents: int | None = bounded(ge=1)
    write_batch_documents: int = bounded(ge=1)


@dataclass
class FeaturesSchema:
    """The ``features`` group: lexicon input features (``tagger/lexicon_inputs.py``)."""

    enabled: bool
    rate_edges: list[float]
    recurrence: bool
    word_boundaries: bool


@dataclass
class GbdtSchema:
    """``decision.rescore_gbdt``: LightGBM's parameters of these names (``decision/gbdt.py``)."""

    num_boost_round: int = bounded(ge=1)
    learning_rate: float = bounded(gt=0)
    num_leaves: int = bounded(ge=2)
    min_data_in_leaf: int = bounded(ge=1)
    feature_fraction: float = bounded(gt=0, le=1)
    lambda_l2: float = bounded(ge=0)
    seed: int


@dataclass
class DecisionSchema:
    """The ``decision`` group. ``"auto"``: searched on validation; a number fixes the setting."""

    kind: Literal[DECISION_KINDS]
    o_scale: Literal["auto"] | float = bounded(gt=0)
    fusion: bool
    fusion_min_rate: Literal["auto"] | float | None = bounded(ge=0, le=1)
    fusion_weight: Literal["auto"] | float = bounded(ge=0, le=1)
    rescore: bool
    rescore_nested: bool
    rescore_features: list[Literal[GROUPS]]
    candidate_o_scale: float = bounded(gt=0)
    rescore_model: Literal[RESCORE_MODELS]
    rescore_hidden: int = bounded(ge=0)
    rescore_steps: int = bounded(ge=1)
    rescore_gbdt: GbdtSchema
    rescore_ensemble: int = bounded(ge=1)
    rescore_max_words: int = bounded(ge=1)
    rescore_max_chars: int = bounded(ge=1)


@dataclass
class FinetuneSchema:
    """``model.finetune``: how the preset trains. The ``trainer`` keys of the same names and
    ``data.window`` read these values, and are checked again as they arrive there
    (``TRAINER_BOUNDS``, ``windows.check_window``)."""

    learning_rate: float = bounded(**TRAINER_BOUNDS["learning_rate"])
    warmup_steps: float = bounded(ge=0)  # < 1: a fraction of the training steps
    num_train_epochs: float = bounded(**TRAINER_BOUNDS["num_train_epochs"])
    per_device_train_batch_size: int = bounded(**TRAINER_BOUNDS["per_device_train_batch_size"])
    max_chars: int = bounded(ge=1)
    stride: int = bounded(ge=0)


@dataclass
class ModelSchema:
    """``name_or_path``: a hub name or a local directory; the sizes are ``BertConfig`` fields;
    ``head``: a softmax per character, or a linear-chain CRF over the logits (``tagger/crf.py``)."""

    name: str
    head: Literal[HEADS]
    from_scratch: bool
    name_or_path: str | None
    finetune: FinetuneSchema
    hidden_size: int | None = bounded(ge=1)
    num_hidden_layers: int | None = bounded(ge=1)
    num_attention_heads: int | None = bounded(ge=1)
    intermediate_size: int | None = bounded(ge=1)
    max_position_embeddings: int | None = bounded(ge=1)
    hidden_dropout_prob: float | None = bounded(ge=0, lt=1)
    attention_probs_dropout_prob: float | None = bounded(ge=0, lt=1)
    type_vocab_size: int | None = bounded(ge=1)
    initializer_range: float | None = bounded(gt=0)


@dataclass
class PretrainSchema:
    """``pretrain``: masked-language-model pretraining before fine-tuning (``training/pretrain.py``)."""

    mlm_epochs: float = bounded(ge=0)
    mlm_probability: float = bounded(gt=0, lt=1)
    learning_rate: float = bounded(gt=0)
    warmup_steps: float = bounded(ge=0)  # < 1: a fraction of the pretraining steps
    texts: Literal[PRETRAIN_TEXTS]


@dataclass
class TrainSchema:
    experiment_name: str | int
    seed: int
    threads: int | None = bounded(ge=1)
    verbose: bool
    run_stamp: str | int
    output_dir: Path
    optimized_metric: str
    tagger_from: Path | None
    objective_folds: list[int] | None
    pretrain: PretrainSchema
    data: DataSchema
    model: ModelSchema
    features: FeaturesSchema
    decision: DecisionSchema
    trainer: dict  # TrainingArguments' own annotations: training.arguments.check_trainer_config


@dataclass
class PrepareSchema:
    data: DataSchema


@dataclass
class EvaluateDataSchema:
    """Overrides of the checkpoint's data settings; null keeps the checkpoint's."""

    corpus_path: Path | None
    on_missing_phrase: str | None


@dataclass
class EvaluateSchema:
    checkpoint: Path | None
    split: str
    data: EvaluateDataSchema
    output_dir: Path | None
    device: Device
    batch_size: int = bounded(ge=1)
    chunk_chars: int | None = bounded(ge=1)
    streams: int | None = bounded(ge=1)
    precision: Literal[PRECISIONS]
    verbose: bool


@dataclass
class PredictSchema:
    checkpoint: Path | None
    input: Path | None
    output: Path | None
    format: str
    device: Device
    batch_size: int = bounded(ge=1)
    chunk_chars: int | None = bounded(ge=1)
    streams: int | None = bounded(ge=1)
    precision: Literal[PRECISIONS]
    documents_per_chunk: int = bounded(ge=1)
    min_score: float = bounded(ge=0, le=1)  # phrase scores are probabilities
    top_k: int | None = bounded(ge=0)
    unique: bool
    verbose: bool


@dataclass
class CvReportSchema:
    sweep_dir: Path | None
    device: Device
    verbose: bool
