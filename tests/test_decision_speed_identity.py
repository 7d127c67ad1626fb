"""The rescorer's array-work candidates (spans.py, substrings.py, occurrences.py) against the
straightforward definitions they replaced: strings collected by loops, occurrences found by an
Aho-Corasick matcher built over the candidates, counts looked up per string, phrases decoded by a
matcher built over the accepted strings. Same strings, same occurrences in the same order, same
counts, same decision. (No timing here: benchmarks measure speed, tests pin behaviour.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.cleaning import CleaningConfig, reject_reason
from keyphrase_tagger.data.corpus import read_corpus
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.decision.candidates import GROUPS, described_candidates, feature_names
from keyphrase_tagger.decision.decoder import accepted_decided, decode_phrases, occurrences_decided, scale_o
from keyphrase_tagger.decision.rescorer import Rescorer
from keyphrase_tagger.decision.spans import MAX_CHARS, MAX_WORDS
from keyphrase_tagger.data.characters import code_points
from keyphrase_tagger.decision.occurrences import range_reduce
from keyphrase_tagger.decision.spans import strip_mask
from keyphrase_tagger.decision import substrings
from keyphrase_tagger.decision.substrings import (CandidateStrings, SubstringKeys, char_ranks, first_of_each,
                                                   length_bands, pair_ranks)
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.lexicon.segmentation import segment
from keyphrase_tagger.records import Document

CORPUS = Path(__file__).resolve().parents[1] / "data" / "raw" / "policy_keyphrases.txt"
CLEANINGS = [CleaningConfig(), CleaningConfig(min_chars=3, stop_phrases=frozenset({"发展", "推动", "数字经济"}))]


@pytest.fixture(scope="module")
def corpus():
    """Three test texts (cut to keep the test short), a lexicon of six other documents, and the
    leave-one-out lexicon of one of them (it has phrases with an ``occurs`` count but no ``listed``)."""
    raw = read_corpus(CORPUS)
    train = [Document(r.doc_id, r.text, r.raw_phrases) for r in raw[3:9]]
    lexicon = build_lexicon(train, with_words=True)
    texts = [r.text[:2500] for r in raw[:3]] + [train[0].text[:2500]]
    return texts, lexicon, leave_one_out_lexicons(lexicon, train)[0]


def tagger_probs(text: str, seed: int) -> np.ndarray:
    """Probabilities with runs of B/I, as a tagger gives them (a Dirichlet per character alone
    gives few spans longer than 2), in float32 as the model gives them."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([4.0, 1.0, 1.0], size=len(text))
    inside = np.repeat(rng.random(len(text) // 8 + 1) < 0.4, 8)[: len(text)]
    probs[inside] = probs[inside][:, [1, 0, 2]] * 0.3 + probs[inside][:, [2, 1, 0]] * 0.7
    return probs.astype(np.float32)


def reference_pool(text: str, probs: np.ndarray, lexicon, cleaning: CleaningConfig, o_scale: float,
                   word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS)) -> set[str]:
    """The candidate strings by their definitions, one run, span or match at a time."""
    words = segment(text)
    clean = [not any(ch in cleaning.strip_chars for ch in w) for w in words.strings]
    starts, ends = words.starts.tolist(), words.ends.tolist()
    max_words, max_chars = word_limits
    runs = set()
    for a in range(len(clean)):
        for b in range(a, min(a + max_words, len(clean))):
            if not clean[b] or ends[b] - starts[a] > max_chars:
                break
            runs.add(text[starts[a] : ends[b]])
    pool = {r for r in runs if reject_reason(r, cleaning) is None}
    pool |= {lexicon.matcher.phrases[i] for i, _, _ in lexicon.matcher.find_all(text)}
    pool |= {p.text for p in decode_phrases(text, probs, cleaning)}
    return pool | {p.text for p in decode_phrases(text, scale_o(probs, o_scale), cleaning)}


@pytest.mark.parametrize(("cleaning", "loo", "word_limits"), [
    (CLEANINGS[0], False, (MAX_WORDS, MAX_CHARS)), (CLEANINGS[0], True, (MAX_WORDS, MAX_CHARS)),
    (CLEANINGS[1], False, (MAX_WORDS, MAX_CHARS)), (CLEANINGS[1], True, (MAX_WORDS, MAX_CHARS)),
    (CLEANINGS[0], False, (6, 20)), (CLEANINGS[1], True, (8, 12))])
def test_candidates_occurrences_and_counts_are_those_of_the_definitions(corpus, cleaning, loo, word_limits):
    texts, full, left_out = corpus
    lexicon = left_out if loo else full
    for seed, text in enumerate(texts):
        probs = tagger_probs(text, seed)
        occ, features = described_candidates(text, probs, lexicon, cleaning, 0.5, GROUPS, word_limits)
        names = sorted(reference_pool(text, probs, lexicon, cleaning, 0.5, word_limits))
        strings = occ.candidates  # in candidate-number order
        assert sorted(strings) == names and len(set(strings)) == len(strings)
        # Every occurrence, in the order an overlapping automaton reports them (the order the
        # per-candidate means sum in).
        got = [(strings[k], s, e) for k, s, e in zip(occ.k.tolist(), occ.s.tolist(), occ.e.tolist())]
        assert got == [(names[i], s, e) for i, s, e in PhraseMatcher(names).find_all(text)]
        np.testing.assert_array_equal(occ.strings.lengths, [len(p) for p in strings])
        listed, occurs = occ.lexicon_counts()
        np.testing.assert_array_equal(listed, [lexicon.listed.get(p, 0) for p in strings])
        np.testing.assert_array_equal(occurs, [lexicon.occurs.get(p, 0) for p in strings])
        decoded = {p.text for p in decode_phrases(text, probs, cleaning)}
        np.testing.assert_array_equal(occ.contains(occ.inputs.decoded), [p in decoded for p in strings])
        assert features.matrix().shape == (len(names), len(feature_names(GROUPS)))
    if loo:  # the case lexicon_counts must not miss: counted, but listed by no other document
        assert any(n and p not in lexicon.listed for p, n in lexicon.occurs.items())


def reference_decision(rescorer: Rescorer, text, probs, lexicon, cleaning):
    """The decision as it was: a matcher built over the accepted strings."""
    return accepted_decided(text, rescorer.accepted(text, probs, lexicon, cleaning), rescorer.nested)


def same_spans(fast, slow) -> bool:
    """Same spans; scores equal up to the order of the rescorer's floating-point sums."""
    return ([(s, e) for s, e, _ in fast.spans] == [(s, e) for s, e, _ in slow.spans]
            and np.allclose([p for *_, p in fast.spans], [p for *_, p in slow.spans], rtol=0, atol=1e-12))


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize(("hidden", "groups"), [(8, GROUPS), (0, GROUPS), (8, ("document", "lexicon", "tagger"))])
def test_the_rescorers_decision_is_the_one_a_matcher_over_the_accepted_strings_gives(corpus, nested, hidden, groups):
    texts, lexicon, _ = corpus
    n_features = len(feature_names(groups))
    rng = np.random.default_rng(1)
    # Random weights over features standardised as a fit would (the first text's column means and
    # deviations), with a bias that accepts a good share: many nested and overlapping phrases.
    x = described_candidates(texts[0], tagger_probs(texts[0], 0), lexicon, CLEANINGS[0], 0.5, groups)[1].matrix()
    deviation = x.std(axis=0)
    mean, scale = tuple(x.mean(axis=0)), tuple(np.where(deviation > 1e-6, deviation, 1.0))  # constant: 1
    if hidden:
        rescorer = Rescorer(0.5, mean, scale, tuple(rng.normal(size=hidden)), 0.3,
                            tuple(map(tuple, rng.normal(size=(hidden, n_features)) * 0.3)),
                            tuple(rng.normal(size=hidden) * 0.1), groups, nested)
    else:
        rescorer = Rescorer(0.5, mean, scale, tuple(rng.normal(size=n_features) * 0.3), 0.3, (), (), groups, nested)
    for seed, text in enumerate(texts):
        probs = tagger_probs(text, seed)
        fast = rescorer.decide(text, probs, lexicon, CLEANINGS[0])
        slow = reference_decision(rescorer, text, probs, lexicon, CLEANINGS[0])
        assert len(slow.spans) > 10
        np.testing.assert_array_equal(fast.tags, slow.tags)
        assert same_spans(fast, slow)
        occ, features = described_candidates(text, probs, lexicon, CLEANINGS[0], 0.5, groups)
        # The factored product differs from the full one by the order of its sums only.
        np.testing.assert_allclose(rescorer.factored_probabilities(features),
                                   rescorer.probabilities(features.matrix()), rtol=0, atol=1e-12)
    empty = dataclasses.replace(rescorer, output_bias=-100.0)  # nothing accepted
    fast = empty.decide(texts[0], tagger_probs(texts[0], 0), lexicon, CLEANINGS[0])
    slow = reference_decision(empty, texts[0], tagger_probs(texts[0], 0), lexicon, CLEANINGS[0])
    assert fast.spans == slow.spans == () and fast.tags.dtype == slow.tags.dtype


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab数字", min_size=1, max_size=40), st.data())
def test_substring_keys_are_equal_exactly_when_the_strings_are(text, data):
    keys = SubstringKeys(code_points(text))
    length = data.draw(st.integers(1, len(text)))
    starts = np.arange(len(text) - length + 1)
    got = keys.keys(length, starts)
    for i in starts.tolist():
        for j in starts.tolist():
            assert (got[i] == got[j]) == (text[i : i + length] == text[j : j + length])


@given(st.text(min_size=1, max_size=60))
def test_character_ranks_are_the_ranks_of_the_distinct_characters(text):
    # Both ways of ranking: short texts of high code points take the sort, the others the table.
    codes = code_points(text)
    np.testing.assert_array_equal(char_ranks(codes), np.unique(codes, return_inverse=True)[1])
    long = np.tile(codes, 20_000)
    np.testing.assert_array_equal(char_ranks(long), np.unique(long, return_inverse=True)[1])


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab数字", min_size=1, max_size=30), st.data(), st.booleans())
def test_decided_from_occurrences_is_the_matchers_decision(text, data, nested):
    substrings = sorted({text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1)})
    accepted = {p: 0.5 + 0.01 * k for k, p in enumerate(data.draw(st.sets(st.sampled_from(substrings), max_size=8)))}
    occurrences = PhraseMatcher(sorted(accepted)).find_all(text)
    phrases = PhraseMatcher(sorted(accepted)).phrases
    starts = np.array([s for _, s, _ in occurrences], dtype=np.int64)
    ends = np.array([e for _, _, e in occurrences], dtype=np.int64)
    scores = np.array([accepted[phrases[i]] for i, _, _ in occurrences])
    fast, slow = occurrences_decided(len(text), starts, ends, scores, nested), accepted_decided(text, accepted, nested)
    np.testing.assert_array_equal(fast.tags, slow.tags)
    assert fast.spans == slow.spans


@given(st.lists(st.integers(0, 40), min_size=1, max_size=80), st.data())
def test_pair_ranks_are_the_ranks_of_the_distinct_pairs(values, data):
    # Values below 2**16 take the radix sorts; a bound above it, the sort of the combined keys.
    first = np.array(values, dtype=np.int64)
    second = np.array(data.draw(st.lists(st.integers(0, 40), min_size=len(values), max_size=len(values))))
    expected = np.unique(first * 41 + second, return_inverse=True)[1]
    for bound in (41, 1 << 16, (1 << 16) + 1, 1 << 20):
        np.testing.assert_array_equal(pair_ranks(first, second, bound), expected)


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=60), st.data())
def test_range_reduce_is_the_reduction_over_each_range(values, data):
    values = np.array(values)
    pairs = data.draw(st.lists(st.tuples(st.integers(0, len(values) - 1), st.integers(0, len(values) - 1)),
                               min_size=1, max_size=30))
    first = np.array([min(p) for p in pairs])
    last = np.array([max(p) for p in pairs])
    for ufunc in (np.minimum, np.maximum):
        expected = [ufunc.reduce(values[a : b + 1]) for a, b in zip(first.tolist(), last.tolist())]
        np.testing.assert_array_equal(range_reduce(ufunc, values, first, last), expected)


@given(st.text(min_size=0, max_size=60), st.text(min_size=0, max_size=8))
def test_strip_mask_flags_the_strip_characters(text, strip_chars):
    expected = [ch in strip_chars for ch in text]
    np.testing.assert_array_equal(strip_mask(code_points(text), strip_chars), np.array(expected, dtype=bool))


@given(st.lists(st.integers(0, 30), max_size=80))
def test_first_of_each_is_uniques_first_index(values):
    # A bound that fits folds the positions into one sort; one that does not takes np.unique.
    keys = np.array(values, dtype=np.int64)
    expected_keys, expected_first = np.unique(keys, return_index=True)
    for top in (31, substrings.KEY_LIMIT):
        got_keys, got_first = first_of_each(keys, top)
        np.testing.assert_array_equal(got_keys, expected_keys)
        np.testing.assert_array_equal(got_first, expected_first)


@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(1, 12))
def test_length_bands_cover_every_length_each_at_most_per_band_wide(lengths, per_band):
    bands = length_bands(np.array(lengths), per_band)
    assert all(hi - lo < per_band for lo, hi in bands)
    assert all(a[1] < b[0] for a, b in zip(bands, bands[1:]))
    assert all(sum(lo <= n <= hi for lo, hi in bands) == 1 for n in lengths)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab数字", min_size=1, max_size=30), st.data())
def test_candidate_strings_are_the_same_in_one_band_or_in_many(text, data):
    # Texts of millions of characters split the candidates' lengths into bands (their keys would
    # not fit in 64 bits); a small KEY_LIMIT makes a band per length of these short ones.
    pairs = data.draw(st.lists(st.tuples(st.integers(0, len(text) - 1), st.integers(1, len(text))), min_size=1))
    starts = np.array([min(a, len(text) - b) for a, b in pairs], dtype=np.int64)
    ends = starts + np.array([b for _, b in pairs], dtype=np.int64)
    keys = SubstringKeys(code_points(text))
    queries = (np.arange(len(text)), np.minimum(np.arange(len(text)) + 2, len(text)))
    one = CandidateStrings(text, keys, starts, ends)
    assert len(one._bands) == 1
    assert len(set(one.strings)) == len(one.strings) and one.lengths.tolist() == sorted(one.lengths.tolist())
    assert set(one.strings) == {text[a:b] for a, b in zip(starts.tolist(), ends.tolist())}
    limit = substrings.KEY_LIMIT
    try:
        substrings.KEY_LIMIT = keys.top  # one length per band
        many = CandidateStrings(text, keys, starts, ends)
    finally:
        substrings.KEY_LIMIT = limit
    assert len(many._bands) == len(np.unique(ends - starts))
    assert many.strings == one.strings
    np.testing.assert_array_equal(many.numbers(*queries), one.numbers(*queries))
    for a, b in zip(many.occurrences(), one.occurrences()):
        np.testing.assert_array_equal(a, b)
    found = one.numbers(*queries)
    for n, (a, b) in zip(found.tolist(), zip(*(q.tolist() for q in queries))):
        assert (n >= 0) == (text[a:b] in one.strings) and (n < 0 or one.strings[n] == text[a:b])
