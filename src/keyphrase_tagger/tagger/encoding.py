"""Characters -> token ids, exactly one token per character.

Labels are per character, so the model must see one position per character. Each distinct
character is sent through the tokenizer once, as a one-character word (``is_split_into_words``),
and the result is cached: a character the vocabulary lacks becomes ``[UNK]``, and a character the
tokenizer would drop (whitespace, control characters) also becomes ``[UNK]`` so that nothing after
it shifts; so does a lone surrogate, which the tokenizer cannot take at all. This is exact
tokenizer behaviour at the cost of one array lookup per character (a table indexed by code point,
as large as the largest code point seen).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from keyphrase_tagger.data.characters import code_points

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class CharEncoder:
    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.unk_id = int(tokenizer.unk_token_id)
        self.cls_id = int(tokenizer.cls_token_id)
        self.sep_id = int(tokenizer.sep_token_id)
        self.pad_id = int(tokenizer.pad_token_id)
        self._table = np.full(0, -1, dtype=np.int64)  # code point -> id, -1 where not learnt yet

    def _learn(self, points: np.ndarray) -> None:
        """Ask the tokenizer for the ids of the characters at ``points`` (none learnt yet)."""
        chars = [chr(p) for p in points.tolist()]
        ids = np.full(len(chars), self.unk_id, dtype=np.int64)
        # A lone surrogate (e.g. from a JSON "\ud800" escape) is no Unicode character: the Rust
        # tokenizer refuses the whole batch with a TypeError, so it is [UNK] without asking.
        asked = [k for k, c in enumerate(chars) if not "\ud800" <= c <= "\udfff"]
        if asked:
            enc = self.tokenizer([[chars[k]] for k in asked], is_split_into_words=True, add_special_tokens=False)
            for k, found in zip(asked, enc["input_ids"]):
                # One-character words give at most one token; guard anyway so alignment never shifts.
                if len(found) == 1:
                    ids[k] = found[0]
        self._table[points] = ids

    def encode(self, text: str) -> np.ndarray:
        """``int64`` ids, ``len(text)`` of them."""
        points = code_points(text)
        if not len(points):
            return points
        top = int(points.max())
        if top >= len(self._table):
            self._table = np.concatenate([self._table, np.full(top + 1 - len(self._table), -1, dtype=np.int64)])
        ids = self._table[points]
        unknown = ids < 0
        if unknown.any():
            self._learn(np.unique(points[unknown]))
            ids = self._table[points]
        return ids


def build_char_vocab(texts: Iterable[str]) -> list[str]:
    """Special tokens, then every non-whitespace character of ``texts`` in code-point order."""
    chars = set()
    for text in texts:
        chars.update(text)
    return list(SPECIAL_TOKENS) + sorted(c for c in chars if c.isprintable() and not c.isspace())


def make_char_tokenizer(vocab: list[str], model_max_length: int):
    """A standard BERT WordPiece tokenizer (``BertTokenizerFast``) over a character vocabulary."""
    from transformers import BertTokenizerFast

    return BertTokenizerFast(
        vocab={token: i for i, token in enumerate(vocab)},
        do_lower_case=False,
        strip_accents=False,
        tokenize_chinese_chars=True,
        model_max_length=model_max_length,
    )
