"""Model presets: a small BERT from scratch over a character vocabulary, or a pretrained one."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.records import ID2LABEL, LABEL2ID
from keyphrase_tagger.tagger.encoding import build_char_vocab, make_char_tokenizer

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


def build_model_and_tokenizer(model_cfg: Mapping, train_texts: Iterable[str], max_chars: int, n_token_types: int = 2):
    """``(model, tokenizer)`` for the ``model`` config group; windows of ``max_chars`` must fit.

    ``n_token_types`` > 2 sizes ``token_type_ids`` for lexicon features (a pretrained model's are
    grown: :func:`grow_token_types`).
    """
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        BertConfig,
        BertForTokenClassification,
    )

    if model_cfg.get("from_scratch", False):
        bert_kwargs = {k: model_cfg[k] for k in _BERT_KEYS if model_cfg.get(k) is not None}
        bert_kwargs["type_vocab_size"] = max(int(bert_kwargs.get("type_vocab_size", 2)), n_token_types)
        vocab = build_char_vocab(train_texts)
        tokenizer = make_char_tokenizer(vocab, int(bert_kwargs.get("max_position_embeddings", 512)))
        config = BertConfig(
            vocab_size=len(vocab),
            pad_token_id=tokenizer.pad_token_id,
            num_labels=len(ID2LABEL),
            id2label=ID2LABEL,
            label2id=LABEL2ID,
            **bert_kwargs,
        )
        model = BertForTokenClassification(config)
        log.info("new BERT from scratch: %d characters in vocab, %.2fM parameters", len(vocab), model.num_parameters() / 1e6)
    else:
        name = model_cfg.get("name_or_path")
        if not name:
            raise ConfigError("model.name_or_path must name a pretrained model or a local directory")
        try:
            tokenizer = AutoTokenizer.from_pretrained(name)
            model = AutoModelForTokenClassification.from_pretrained(
                name, num_labels=len(ID2LABEL), id2label=ID2LABEL, label2id=LABEL2ID, ignore_mismatched_sizes=True
            )
        except OSError as err:
            raise ConfigError(f"model.name_or_path={name}: cannot load a pretrained model ({err.__class__.__name__}: "
                              f"{str(err).splitlines()[0]})") from None
        grow_token_types(model, n_token_types)
    limit = int(model.config.max_position_embeddings)
    tokenizer.model_max_length = limit
    if max_chars + 2 > limit:
        raise ConfigError(f"data.window.max_chars={max_chars} + 2 special tokens exceeds the model's {limit} positions")
    return model, tokenizer


def grow_token_types(model, n_token_types: int) -> None:
    """Give a pretrained BERT-style ``model`` ``n_token_types`` token types (for lexicon features)
    when it has fewer; the new rows start as copies of type 0 ("no match"), so fine-tuning starts
    from the pretrained model's own behaviour and learns what the lexicon types add."""
    import torch

    embeddings = getattr(getattr(model, "base_model", None), "embeddings", None)
    old = getattr(embeddings, "token_type_embeddings", None)
    if n_token_types <= int(getattr(model.config, "type_vocab_size", 2)):
        return
    if old is None:
        raise ConfigError(f"features.enabled=true needs {n_token_types} token types, and this pretrained "
                          f"{type(model).__name__} has no token type embeddings to grow (features=none)")
    grown = torch.nn.Embedding(n_token_types, old.embedding_dim, dtype=old.weight.dtype, device=old.weight.device)
    with torch.no_grad():
        grown.weight[: old.num_embeddings] = old.weight
        grown.weight[old.num_embeddings :] = old.weight[0]
    embeddings.token_type_embeddings = grown
    model.config.type_vocab_size = n_token_types
