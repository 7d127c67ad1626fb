"""Agreement of ``extract_many``'s tags and spans with the token-classification pipeline's, and of
two extractors' phrases (``bench_inference.py``'s docstring says what each number means)."""

from __future__ import annotations

import numpy as np


def tags_from_groups(length: int, groups: list[dict]) -> np.ndarray:
    from keyphrase_tagger.records import B, I, O

    tags = np.full(length, O, dtype=np.int8)
    for g in groups:
        tags[int(g["start"])] = B
        tags[int(g["start"]) + 1 : int(g["end"])] = I
    return tags


def tags_from_probs(probs: np.ndarray) -> np.ndarray:
    """Argmax tags, an orphan I (after O) read as B: the pipeline's grouping rule, written out here
    independently of ``data.labeling.tags_to_spans`` so that the comparison also checks the decoder."""
    from keyphrase_tagger.records import B, I, O

    tags = probs.argmax(axis=-1).astype(np.int8)
    prev = np.concatenate([[O], tags[:-1]])
    tags[(tags == I) & (prev == O)] = B
    return tags


def raw_spans(tags: np.ndarray) -> list[tuple[int, int]]:
    """B starts a span, the I that follow extend it (tags already have no orphan I)."""
    from keyphrase_tagger.records import B, I

    starts = np.flatnonzero(tags == B).tolist()
    spans = []
    for s in starts:
        e = s + 1
        while e < len(tags) and tags[e] == I:
            e += 1
        spans.append((s, e))
    return spans


def clean(text: str, spans, cleaning) -> dict[tuple[int, int], tuple[int, int]]:
    """Cleaned span -> the untrimmed span it came from, for spans the cleaning keeps."""
    from keyphrase_tagger.data.cleaning import reject_reason, strip_span

    out = {}
    for s, e in spans:
        cs, ce = strip_span(text, s, e, cleaning.strip_chars)
        if reject_reason(text[cs:ce], cleaning) is None:
            out[(cs, ce)] = (s, e)
    return out


def agreement(texts, phrases, probs, outputs, cleaning) -> dict:
    """Tag and span agreement between one extractor and the pipeline (see the module docstring)."""
    chars = same_chars = 0
    n_ours = n_theirs = same = 0
    st = {"ours": 0, "theirs": 0, "same": 0}
    for text, doc_phrases, p, groups in zip(texts, phrases, probs, outputs):
        ours_tags, their_tags = tags_from_probs(p), tags_from_groups(len(text), groups)
        equal = ours_tags == their_tags
        chars, same_chars = chars + len(text), same_chars + int(equal.sum())
        ours = {(ph.start, ph.end) for ph in doc_phrases}
        theirs = clean(text, ((int(g["start"]), int(g["end"])) for g in groups), cleaning)
        ours_raw = clean(text, raw_spans(ours_tags), cleaning)

        def same_tags(raw: tuple[int, int] | None) -> bool:
            return raw is not None and bool(equal[max(0, raw[0] - 1) : raw[1] + 1].all())

        n_ours, n_theirs, same = n_ours + len(ours), n_theirs + len(theirs), same + len(ours & set(theirs))
        # An extractor span with no untrimmed span under its tags counts as decoded on the same tags:
        # then it can only be a decoder error, and it must show up as a disagreement.
        ours_st = {s for s in ours if ours_raw.get(s) is None or same_tags(ours_raw[s])}
        theirs_st = {s for s, raw in theirs.items() if same_tags(raw)}
        st["ours"], st["theirs"] = st["ours"] + len(ours_st), st["theirs"] + len(theirs_st)
        st["same"] += len(ours_st & theirs_st)
    jaccard = lambda x, y, z: z / (x + y - z) if x + y - z else 1.0  # noqa: E731
    return {
        "tag_agreement": same_chars / chars if chars else 1.0,
        "extractor_spans": n_ours,
        "pipeline_spans": n_theirs,
        "identical_spans": same,
        "span_agreement": jaccard(n_ours, n_theirs, same),
        "where_tags_agree": {**st, "span_agreement": jaccard(st["ours"], st["theirs"], st["same"])},
    }


def phrase_agreement(reference: list, other: list) -> float:
    """Fraction of the phrases (document, start, end) of either that both return: 1.0 when identical."""
    a = {(d, p.start, p.end) for d, phrases in enumerate(reference) for p in phrases}
    b = {(d, p.start, p.end) for d, phrases in enumerate(other) for p in phrases}
    return len(a & b) / max(1, len(a | b))
