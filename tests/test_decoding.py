"""The one decoder: per-character tag probabilities -> spans -> cleaned, scored phrases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.cleaning import CleaningConfig, reject_reason, strip_span
from keyphrase_tagger.data.labeling import (
    spans_to_tag_ids,
    tag_strings_to_ids,
    tags_to_spans,
)
from keyphrase_tagger.decision.decoder import (
    Decided,
    accepted_decided,
    argmax_decided,
    decode_phrases,
)
from keyphrase_tagger.records import B, I, O, Phrase

NO_CLEANING = CleaningConfig(strip_chars="", min_chars=1)
DEFAULT_CLEANING = CleaningConfig()
HAN = "服务业跨境电商物流体系养老金融科技数字经济发展推进"


@st.composite
def spans_in_text(draw, alphabet: str = HAN):
    """A text and sorted, non-overlapping, possibly adjacent spans of it."""
    text = draw(st.text(alphabet=alphabet, max_size=80))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=20)))
    spans = []
    for start, end in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append((start, end))
    return text, spans


def one_hot(tags: np.ndarray) -> np.ndarray:
    probs = np.zeros((len(tags), 3), dtype=np.float32)
    probs[np.arange(len(tags)), tags] = 1.0
    return probs


def spans_of(tags) -> list[tuple[int, int]]:
    starts, ends = tags_to_spans(np.asarray(tags))
    return list(zip(starts.tolist(), ends.tolist()))


# Property tests run without a deadline: CI shares two cores, so per-example timing means nothing.
@settings(deadline=None)
@given(spans_in_text())
def test_spans_survive_tags_and_back(case):
    text, spans = case
    tags = spans_to_tag_ids(len(text), [s for s, _ in spans], [e for _, e in spans])
    assert spans_of(tags) == spans


@settings(deadline=None)
@given(spans_in_text())
def test_decoded_phrases_reproduce_the_spans_that_made_them(case):
    text, spans = case
    tags = spans_to_tag_ids(len(text), [s for s, _ in spans], [e for _, e in spans])
    phrases = decode_phrases(text, one_hot(tags), NO_CLEANING)
    assert [(p.start, p.end) for p in phrases] == spans
    assert all(p.text == text[p.start : p.end] and p.score == 1.0 for p in phrases)


@settings(deadline=None)
@given(st.lists(st.sampled_from([O, B, I]), max_size=60))
def test_every_tagged_character_lies_in_exactly_one_span(tags):
    tags = np.array(tags, dtype=np.int8)
    covered = np.zeros(len(tags), dtype=int)
    for start, end in spans_of(tags):
        assert start < end
        assert tags[start] == B or tags[start] == I and (start == 0 or tags[start - 1] == O)
        assert (tags[start + 1 : end] == I).all()
        assert end == len(tags) or tags[end] != I
        covered[start:end] += 1
    np.testing.assert_array_equal(covered, (tags != O).astype(int))


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        ("O I I O", [(1, 3)]),  # an orphan I-KP starts a span
        ("I I O", [(0, 2)]),  # ... also at the very start
        ("B I O I", [(0, 2), (3, 4)]),
        ("B B I", [(0, 1), (1, 3)]),  # B-KP always starts a new span
        ("B I I", [(0, 3)]),
        ("O O", []),
        ("", []),
    ],
)
def test_span_rules_including_orphan_inside_tags(tags, spans):
    assert spans_of(tag_strings_to_ids([{"O": "O", "B": "B-KP", "I": "I-KP"}[t] for t in tags.split()])) == spans


@st.composite
def text_and_probs(draw):
    text = draw(st.text(alphabet=HAN + "，。、（）“” \t\n\u3000😀Ａ", max_size=60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(len(text), 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return text, probs.astype(np.float32)


@settings(deadline=None)
@given(text_and_probs())
def test_phrases_are_exact_substrings_with_scores_in_unit_interval(case):
    text, probs = case
    for phrase in decode_phrases(text, probs, DEFAULT_CLEANING):
        assert phrase.text == text[phrase.start : phrase.end]
        assert 0.0 <= phrase.score <= 1.0
        assert len(phrase.text) >= DEFAULT_CLEANING.min_chars
        assert phrase.text[0] not in DEFAULT_CLEANING.strip_chars
        assert phrase.text[-1] not in DEFAULT_CLEANING.strip_chars


def per_span_reference(text: str, decided: Decided, cleaning: CleaningConfig, min_score: float) -> list[Phrase]:
    """The cleaning rule one span at a time: ``strip_span``, ``reject_reason``, the score clipped."""
    phrases = []
    for s, e, score in decided.spans:
        s, e = strip_span(text, s, e, cleaning.strip_chars)
        score = float(min(1.0, max(0.0, score)))
        if reject_reason(text[s:e], cleaning) is None and score >= min_score:
            phrases.append(Phrase(text[s:e], s, e, score))
    return phrases


@settings(deadline=None)
@given(text=st.text(alphabet=HAN[:6] + "，、（ ）", max_size=40), data=st.data(),
       stop=st.sets(st.text(alphabet=HAN[:6], min_size=1, max_size=3), max_size=3),
       min_chars=st.integers(0, 3), min_score=st.sampled_from([0.0, 0.5]))
def test_spans_are_cleaned_as_the_per_span_rule_cleans_them(text, data, stop, min_chars, min_score):
    # Overlapping and nested spans, empty ones, any score (NaN and out of [0, 1] included).
    bounds = st.tuples(st.integers(0, len(text)), st.integers(0, len(text))).map(sorted)
    spans = [(s, e, data.draw(st.sampled_from([float("nan"), -0.5, 1.5]) | st.floats(0, 1)))
             for s, e in data.draw(st.lists(bounds, max_size=12))]
    decided = Decided(np.zeros(len(text), dtype=np.int64), tuple(spans))
    cleaning = CleaningConfig(min_chars=min_chars, stop_phrases=frozenset(stop))
    assert decode_phrases(text, decided, cleaning, min_score=min_score) == per_span_reference(
        text, decided, cleaning, min_score)


@settings(deadline=None)
@given(text_and_probs())
def test_phrases_come_in_text_order_without_overlap(case):
    text, probs = case
    phrases = decode_phrases(text, probs, DEFAULT_CLEANING)
    for a, b in zip(phrases, phrases[1:]):
        assert a.end <= b.start


def test_score_is_the_mean_inside_probability_of_the_span_characters():
    text = "服务业发展"
    probs = np.array([[0.1, 0.8, 0.1], [0.3, 0.1, 0.6], [0.3, 0.2, 0.5], [0.9, 0.05, 0.05], [0.9, 0.05, 0.05]])
    assert decode_phrases(text, probs, DEFAULT_CLEANING) == [Phrase("服务业", 0, 3, pytest.approx((0.9 + 0.7 + 0.7) / 3))]


def test_cleaning_trims_the_span_and_moves_its_offsets():
    text = "推进，服务业。发展"
    tags = tag_strings_to_ids(["O", "O", "B-KP", "I-KP", "I-KP", "I-KP", "I-KP", "O", "O"])
    assert decode_phrases(text, one_hot(tags), DEFAULT_CLEANING) == [Phrase("服务业", 3, 6, 1.0)]


def test_span_that_cleans_to_nothing_or_too_little_is_dropped():
    text = "，。服务、业"
    tags = tag_strings_to_ids(["B-KP", "I-KP", "O", "O", "B-KP", "I-KP"])  # "，。" and "、业"
    assert decode_phrases(text, one_hot(tags), DEFAULT_CLEANING) == []
    assert decode_phrases(text, one_hot(tags), CleaningConfig(min_chars=1)) == [Phrase("业", 5, 6, 1.0)]


def test_stop_phrases_are_dropped():
    text = "服务业发展"
    tags = tag_strings_to_ids(["B-KP", "I-KP", "I-KP", "B-KP", "I-KP"])
    cleaning = CleaningConfig(stop_phrases=frozenset({"发展"}))
    assert [p.text for p in decode_phrases(text, one_hot(tags), cleaning)] == ["服务业"]


def scored(text: str, spans_scores: list[tuple[int, int, float]]) -> np.ndarray:
    """Probabilities whose decoded spans are ``spans`` with exactly the given scores."""
    probs = np.tile(np.array([1.0, 0.0, 0.0]), (len(text), 1))
    for start, end, score in spans_scores:
        probs[start] = [1 - score, score, 0.0]
        probs[start + 1 : end] = [1 - score, 0.0, score]
    return probs


TEXT = "服务业和物流和服务业和金融"
PROBS = scored(TEXT, [(0, 3, 0.6), (4, 6, 0.9), (7, 10, 0.8), (11, 13, 0.7)])


def test_default_returns_every_occurrence_in_text_order():
    assert [(p.text, p.start) for p in decode_phrases(TEXT, PROBS, DEFAULT_CLEANING)] == [
        ("服务业", 0), ("物流", 4), ("服务业", 7), ("金融", 11)
    ]


def test_min_score_drops_lower_scores():
    assert [p.text for p in decode_phrases(TEXT, PROBS, DEFAULT_CLEANING, min_score=0.75)] == ["物流", "服务业"]


def test_top_k_keeps_the_best_k_in_text_order():
    assert [(p.text, p.start) for p in decode_phrases(TEXT, PROBS, DEFAULT_CLEANING, top_k=2)] == [("物流", 4), ("服务业", 7)]
    assert decode_phrases(TEXT, PROBS, DEFAULT_CLEANING, top_k=0) == []


def test_unique_keeps_the_best_occurrence_of_each_phrase():
    phrases = decode_phrases(TEXT, PROBS, DEFAULT_CLEANING, unique=True)
    assert [(p.text, p.start) for p in phrases] == [("物流", 4), ("服务业", 7), ("金融", 11)]
    assert [p.text for p in decode_phrases(TEXT, PROBS, DEFAULT_CLEANING, unique=True, top_k=1)] == ["物流"]


def test_empty_text_has_no_phrases():
    assert decode_phrases("", np.zeros((0, 3), dtype=np.float32), DEFAULT_CLEANING) == []


def test_probabilities_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="3 characters"):
        decode_phrases("服务", np.full((3, 3), 1 / 3), DEFAULT_CLEANING)
    with pytest.raises(ValueError, match="3 characters"):
        decode_phrases("服务", Decided(np.zeros(3, dtype=np.int64), ()), DEFAULT_CLEANING)


@settings(deadline=None)
@given(text_and_probs())
def test_probabilities_decode_as_their_argmax_decision(case):
    text, probs = case
    decided = argmax_decided(probs)
    np.testing.assert_array_equal(decided.tags, probs.argmax(axis=-1))
    assert [(s, e) for s, e, _ in decided.spans] == spans_of(decided.tags)
    assert decode_phrases(text, decided, DEFAULT_CLEANING) == decode_phrases(text, probs, DEFAULT_CLEANING)


@given(st.text(alphabet=HAN[:8], max_size=60), st.data())
def test_accepted_strings_decode_to_every_occurrence_nested_ones_included(text, data):
    substrings = sorted({text[s:e] for s in range(len(text)) for e in range(s + 1, min(len(text), s + 6) + 1)})
    chosen = data.draw(st.lists(st.sampled_from(substrings), max_size=6)) if substrings else []
    accepted = {p: data.draw(st.floats(0.0, 1.0)) for p in chosen}
    found = decode_phrases(text, accepted_decided(text, accepted, nested=True), NO_CLEANING)
    expected = sorted((s, s + len(p)) for p in accepted for s in range(len(text)) if text.startswith(p, s))
    assert [(p.start, p.end) for p in found] == expected
    assert all(p.text == text[p.start : p.end] and p.score == pytest.approx(accepted[p.text]) for p in found)


@given(st.text(alphabet=HAN[:8], max_size=60), st.data())
def test_accepted_strings_are_tagged_at_their_leftmost_longest_occurrences(text, data):
    substrings = sorted({text[s:e] for s in range(len(text)) for e in range(s + 1, min(len(text), s + 6) + 1)})
    chosen = data.draw(st.lists(st.sampled_from(substrings), max_size=6)) if substrings else []
    accepted = {p: data.draw(st.floats(0.0, 1.0)) for p in chosen}
    nested, flat = accepted_decided(text, accepted, nested=True), accepted_decided(text, accepted, nested=False)
    np.testing.assert_array_equal(nested.tags, flat.tags)
    # Flat: the spans are the tagged occurrences, none inside another.
    assert [(s, e) for s, e, _ in flat.spans] == spans_of(flat.tags)
    assert all(text[s:e] in accepted and score == pytest.approx(accepted[text[s:e]]) for s, e, score in flat.spans)
    # Leftmost-longest: scanning left to right, each tagged span is the longest accepted string there.
    position = 0
    for s, e, _ in flat.spans:
        assert not any(text.startswith(p, k) for p in accepted for k in range(position, s))
        assert all(len(p) <= e - s for p in accepted if text.startswith(p, s))
        position = e
    assert not any(text.startswith(p, k) for p in accepted for k in range(position, len(text)))


def test_accepted_strings_are_cleaned_like_tagged_spans():
    text = "（数字经济）与服务"
    found = decode_phrases(text, accepted_decided(text, {"（数字经济）": 0.9, "服务": 0.8}, nested=True),
                           DEFAULT_CLEANING, min_score=0.85)
    assert [(p.text, p.start, p.end) for p in found] == [("数字经济", 1, 5)]
