"""Leave-one-out lexicons: each training document sees the statistics of the others only, as a
new document sees the training lexicon. The tagger's lexicon inputs and the rescorer's features
of the training documents read them; otherwise both would learn to copy their own lists."""

from __future__ import annotations

from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.lexicon.word_stats import document_word_counts
from keyphrase_tagger.records import Document


def leave_one_out(lexicon: Lexicon, document: Document, occurring: set[str]) -> Lexicon:
    """The lexicon as if ``document`` (in which the phrases ``occurring`` occur) had not been
    among the training documents."""
    own = set(document.phrases)
    listed = {p: n - (p in own) for p, n in lexicon.listed.items()}
    occurs = {p: n - (p in occurring) for p, n in lexicon.occurs.items()}
    words = lexicon.words.without(document_word_counts(document)) if lexicon.words is not None else None
    return Lexicon({p: n for p, n in listed.items() if n > 0}, occurs, words)


def leave_one_out_lexicons(lexicon: Lexicon, documents: list[Document]) -> list[Lexicon]:
    """For each of the training ``documents``, the lexicon built without it."""
    everything = lexicon.matcher
    out = []
    for d in documents:
        occurring = {everything.phrases[i] for i, _, _ in everything.find_all(d.text)}
        out.append(leave_one_out(lexicon, d, occurring))
    return out
