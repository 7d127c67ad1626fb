"""What training and the decision fit read, built once from the config: the labeled splits, the
training lexicon, each training document's leave-one-out lexicon, and the windows of both splits."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from omegaconf import DictConfig

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.dataset import load_prepared
from keyphrase_tagger.data.prepare import LabeledDocument, PreparedCorpus
from keyphrase_tagger.decision.candidates import needs_word_stats
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import Lexicon, build_lexicon
from keyphrase_tagger.tagger.encoding import CharEncoder
from keyphrase_tagger.tagger.inputs import documents_dataset, windows_dataset
from keyphrase_tagger.tagger.lexicon_inputs import (
    LexiconFeatureConfig,
    LexiconFeaturizer,
    training_type_ids,
)

log = logging.getLogger(__name__)


@dataclass
class TrainingInputs:
    """What training and the decision read, built once from the config: the labeled splits, the
    training lexicon and each training document's lexicon without it."""

    prepared: PreparedCorpus
    train_docs: list[LabeledDocument]
    val_docs: list[LabeledDocument]
    max_chars: int
    stride: int
    cleaning: CleaningConfig
    features: LexiconFeatureConfig
    lexicon: Lexicon
    loo_lexicons: list[Lexicon] | None
    rescore: bool


def load_inputs(cfg: DictConfig) -> TrainingInputs:
    """The corpus split and labeled (the prepared dataset, see :func:`load_prepared`), and the lexicons
    the input features and the rescorer read."""
    # Under torchrun every process loads the documents; one writes the dataset.
    prepared = load_prepared(cfg.data, write=os.environ.get("RANK", "0") == "0")
    train_docs, val_docs = prepared.split("train"), prepared.split("validation")
    max_docs = cfg.data.get("max_documents")
    if max_docs:  # smoke runs: a handful of documents
        train_docs, val_docs = train_docs[:max_docs], val_docs[: max(1, max_docs // 2)]
    if not train_docs:
        raise ConfigError("the training split is empty: the corpus needs more documents for this split config")
    features = LexiconFeatureConfig.from_dict(cfg.features)
    rescore = cfg.decision.kind == "rescorer"
    # Word statistics only where the rescorer's word features read them.
    with_words = rescore and needs_word_stats(cfg.decision.rescore_features)
    lexicon = build_lexicon((d.document for d in train_docs), with_words=with_words)
    # Each training document's lexicon without it: shared by the input features and the rescorer
    # (the same objects, so each one's matcher is built once).
    loo_lexicons = (leave_one_out_lexicons(lexicon, [d.document for d in train_docs])
                    if features.enabled or rescore else None)
    return TrainingInputs(prepared, train_docs, val_docs, int(cfg.data.window.max_chars), int(cfg.data.window.stride),
                          CleaningConfig.from_dict(cfg.data.get("cleaning")), features, lexicon, loo_lexicons, rescore)


def build_windows(inputs: TrainingInputs, tokenizer):
    """``(train_ds, val_ds)``: the windows of both splits (``tagger.inputs.windows_dataset``), with
    the lexicon input features where the model reads them: leave-one-out on the training documents."""
    train_docs, val_docs, features = inputs.train_docs, inputs.val_docs, inputs.features
    train_types = val_types = None
    if features.enabled:
        train_types = training_type_ids(inputs.lexicon, [d.document for d in train_docs], features,
                                        inputs.loo_lexicons)
        featurizer = LexiconFeaturizer(inputs.lexicon, features)
        val_types = [featurizer.type_ids(d.document.text) for d in val_docs]
    encoder = CharEncoder(tokenizer)
    train_ds, val_ds = (
        windows_dataset(documents_dataset([d.document.text for d in docs], [d.tags for d in docs], types),
                        encoder, inputs.max_chars, inputs.stride)
        for docs, types in ((train_docs, train_types), (val_docs, val_types)))
    log.info("%d training windows from %d documents, %d validation windows from %d documents",
             len(train_ds), len(train_docs), len(val_ds), len(val_docs))
    return train_ds, val_ds


def mlm_windows(inputs: TrainingInputs, tokenizer, train_ds, texts: str):
    """The windows masked-language-model pretraining reads (``pretrain.texts``): ``train_ds``'s,
    and with ``all`` also those of the validation and test documents' texts, their lists unread
    (``input_ids`` only)."""
    if texts == "train":
        return train_ds
    import datasets

    others = [d.document.text for name in ("validation", "test") for d in inputs.prepared.split(name)]
    windows = windows_dataset(documents_dataset(others), CharEncoder(tokenizer), inputs.max_chars, inputs.stride)
    log.info("masked-language-model pretraining also reads %d windows of %d unlabelled validation and test "
             "documents (pretrain.texts=all: transductive)", len(windows), len(others))
    return datasets.concatenate_datasets([train_ds.select_columns(["input_ids"]), windows.select_columns(["input_ids"])])
