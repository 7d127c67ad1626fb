"""Model presets: a small BERT from scratch over a character vocabulary, or a pretrained one."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.records import ID2LABEL, LABEL2ID
from keyphrase_tagger.tagger.encoding import build_char_vocab, make_char_tokenizer
from keyphrase_tagger.tagger.inputs import reads_token_types

log = logging.getLogger(__name__)

# Keys of configs/model/tiny.yaml that are BertConfig fields.
_BERT_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "type_vocab_size",
    "initializer_range",
)


def build_model_and_tokenizer(model_cfg: Mapping, train_texts: Iterable[str], max_chars: int,
                              n_token_types: int | None = None):
    """``(model, tokenizer)`` for the ``model`` config group; windows of ``max_chars`` must fit.

    ``n_token_types`` sizes ``token_type_ids`` for lexicon features (a pretrained model's are grown:
    :func:`grow_token_types`); ``None``: no lexicon features, the model's token types as they are
    (a model without any, DistilBERT-like, is fine then).
    """
    if model_cfg.get("from_scratch", False):
        model, tokenizer = _scratch_bert(model_cfg, train_texts, n_token_types)
    else:
        model, tokenizer = _pretrained(model_cfg)
        if n_token_types is not None:
            grow_token_types(model, n_token_types)
    limit = int(model.config.max_position_embeddings)
    tokenizer.model_max_length = limit
    if max_chars + 2 > limit:
        raise ConfigError(f"data.window.max_chars={max_chars} + 2 special tokens exceeds the model's {limit} positions; "
                          f"set model.finetune.max_chars (or data.window.max_chars) to at most {limit - 2}")
    return model, tokenizer


def _scratch_bert(model_cfg: Mapping, train_texts: Iterable[str], n_token_types: int | None):
    """A new ``BertForTokenClassification`` over the characters of ``train_texts``, and its tokenizer."""
    from transformers import BertConfig, BertForTokenClassification

    bert_kwargs = {k: model_cfg[k] for k in _BERT_KEYS if model_cfg.get(k) is not None}
    if n_token_types is not None:
        bert_kwargs["type_vocab_size"] = max(int(bert_kwargs.get("type_vocab_size", 0)), n_token_types)
    vocab = build_char_vocab(train_texts)
    tokenizer = make_char_tokenizer(vocab, int(bert_kwargs.get("max_position_embeddings", 512)))
    config = BertConfig(vocab_size=len(vocab), pad_token_id=tokenizer.pad_token_id, num_labels=len(ID2LABEL),
                        id2label=ID2LABEL, label2id=LABEL2ID, **bert_kwargs)
    model = BertForTokenClassification(config)
    log.info("new BERT from scratch: %d characters in vocab, %.2fM parameters", len(vocab), model.num_parameters() / 1e6)
    return model, tokenizer


def _pretrained_name(model_cfg: Mapping) -> str:
    name = model_cfg.get("name_or_path")
    if not name:
        raise ConfigError("model.name_or_path must name a pretrained model or a local directory")
    return str(name)


def _cannot_load(name: str, err: OSError) -> ConfigError:
    return ConfigError(f"model.name_or_path={name}: cannot load a pretrained model ({err.__class__.__name__}: "
                       f"{str(err).splitlines()[0]})")


def _pretrained(model_cfg: Mapping):
    """The pretrained model of ``model.name_or_path`` with a new token classifier, and its tokenizer."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    name = _pretrained_name(model_cfg)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForTokenClassification.from_pretrained(
            name, num_labels=len(ID2LABEL), id2label=ID2LABEL, label2id=LABEL2ID, ignore_mismatched_sizes=True
        )
    except OSError as err:
        raise _cannot_load(name, err) from None
    return model, tokenizer


def _no_token_types(what: str) -> ConfigError:
    return ConfigError(f"features.enabled=true: the lexicon features are fed through token_type_ids, and {what} "
                       "has no token type embeddings to carry them; train it with features=none")


def check_lexicon_features(model_cfg: Mapping) -> None:
    """Refuse lexicon features for a pretrained model without token types (DistilBERT-like), from its
    ``config.json`` alone, before any data is read; :func:`grow_token_types` checks the loaded model."""
    if model_cfg.get("from_scratch", False):
        return  # a BERT of our own, sized for them
    from transformers import AutoConfig

    name = _pretrained_name(model_cfg)
    try:
        config = AutoConfig.from_pretrained(name)
    except OSError as err:
        raise _cannot_load(name, err) from None
    # BERT, RoBERTa, ELECTRA, ALBERT: >= 1; DeBERTa-v2 says 0; DistilBERT has no such field.
    if int(getattr(config, "type_vocab_size", 0) or 0) < 1:
        raise _no_token_types(f"model.name_or_path={name} ({config.model_type})")


def grow_token_types(model, n_token_types: int) -> None:
    """Give a pretrained BERT-style ``model`` ``n_token_types`` token types (for lexicon features)
    when it has fewer; the new rows start as copies of type 0 ("no match"), so fine-tuning starts
    from the pretrained model's own behaviour and learns what the lexicon types add.
    ``config.type_vocab_size`` follows, so the saved ``config.json`` loads as the model it is.

    A model without token type embeddings, or whose forward takes no ``token_type_ids``, is a
    :class:`ConfigError` naming the features setting."""
    import torch

    embeddings = getattr(getattr(model, "base_model", None), "embeddings", None)
    old = getattr(embeddings, "token_type_embeddings", None)
    if not isinstance(old, torch.nn.Embedding) or not reads_token_types(model):
        raise _no_token_types(f"this pretrained {type(model).__name__}")
    if n_token_types <= old.num_embeddings:
        return
    grown = torch.nn.Embedding(n_token_types, old.embedding_dim, dtype=old.weight.dtype, device=old.weight.device)
    with torch.no_grad():
        grown.weight[: old.num_embeddings] = old.weight
        grown.weight[old.num_embeddings :] = old.weight[0]
    embeddings.token_type_embeddings = grown
    model.config.type_vocab_size = n_token_types
