"""A long text decided piece by piece, so that a decision's working set is bounded by a piece.

The phrase rescorer's features are document-level (counts, first position, means over all the
occurrences of a candidate string), and its arrays grow with the text: a million characters take
hundreds of megabytes. A text longer than ``chunk_chars`` (``configs/predict.yaml``,
``configs/evaluate.yaml``) is therefore cut into pieces of at most that many characters, each
decided on its own, as if it were a document: for such a text the features are those of its piece,
an approximation. A text of at most ``chunk_chars`` characters is one piece: ``decision.decide``
of the whole text, features over all of it.

A piece ends just after its last strip character (``cleaning.strip_chars``: punctuation, which no
cleaned phrase starts or ends with and no word run holds) in the second half of its span, else
(no such character there) at ``chunk_chars`` itself.
"""

from __future__ import annotations

import numpy as np

from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.decision.decoder import Decided

# The piece unless a caller says otherwise (the extractor's default; kpt-predict and kpt-evaluate
# state it in their configs): longer than every document of the embedded corpus (36k characters),
# and a million-character text then takes ~90 MB more than a 100k one instead of ~400 MB.
DECIDE_CHUNK_CHARS = 100_000


def piece_bounds(text: str, chunk_chars: int, strip_chars: str) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` tiling ``text``, each at most ``chunk_chars`` (>= 1) characters."""
    bounds, start, n = [], 0, len(text)
    while n - start > chunk_chars:
        lo, hi = start + chunk_chars // 2, start + chunk_chars
        cut = max((text.rfind(ch, lo, hi) for ch in strip_chars), default=-1) + 1
        end = cut if cut > start else hi
        bounds.append((start, end))
        start = end
    bounds.append((start, n))
    return bounds


def decide_in_pieces(decision: Decision, text: str, probs: np.ndarray, chunk_chars: int | None,
                     strip_chars: str) -> Decided:
    """``decision.decide(text, probs)``, piece by piece (:func:`piece_bounds`) where ``text`` is
    longer than ``chunk_chars`` (``None``: never): the pieces' tags joined, their spans moved to
    offsets in ``text``, in text order."""
    if chunk_chars is None or len(text) <= chunk_chars:
        return decision.decide(text, probs)
    tags, spans = [], []
    for start, end in piece_bounds(text, chunk_chars, strip_chars):
        decided = decision.decide(text[start:end], probs[start:end])
        tags.append(decided.tags)
        spans += [(s + start, e + start, score) for s, e, score in decided.spans]
    return Decided(np.concatenate(tags), tuple(spans))
