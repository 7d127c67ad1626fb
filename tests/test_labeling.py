"""Labeling: every occurrence of every phrase, overlaps resolved leftmost-longest, IOB2 tags.

``naive_leftmost_longest`` below is the pinned rule written as plainly as possible (no automaton,
no numpy): the property tests here and the full-corpus check in test_prepare.py compare the real
labeler against it.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.cleaning import CleaningConfig, clean_phrases
from keyphrase_tagger.data.labeling import (
    label_text,
    spans_to_tag_ids,
    tag_ids_to_strings,
    tag_strings_to_ids,
    tags_to_spans,
)
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.records import LABELS, Span

SHORT = {"O": "O", "B-KP": "B", "I-KP": "I"}


def naive_leftmost_longest(text: str, phrases) -> list[str]:
    """The pinned rule: left to right, the longest phrase starting here, then continue after it."""
    by_length: dict[int, set[str]] = {}
    for phrase in phrases:
        if phrase:
            by_length.setdefault(len(phrase), set()).add(phrase)
    lengths = sorted(by_length, reverse=True)
    tags = ["O"] * len(text)
    i = 0
    while i < len(text):
        for length in lengths:
            if text[i : i + length] in by_length[length]:
                tags[i] = "B-KP"
                for j in range(i + 1, i + length):
                    tags[j] = "I-KP"
                i += length
                break
        else:
            i += 1
    return tags


def tags_of(text: str, phrases) -> list[str]:
    tags, _ = label_text(text, PhraseMatcher(phrases))
    return tag_ids_to_strings(tags)


def bio(text: str, phrases) -> str:
    """Tags as one letter per character (``B``/``I``/``O``), easy to read beside the text."""
    return "".join(SHORT[t] for t in tags_of(text, phrases))


def test_one_tag_string_per_character():
    tags = tags_of("发展服务业", ["服务业"])
    assert tags == ["O", "O", "B-KP", "I-KP", "I-KP"]
    assert set(tags) <= set(LABELS)


def test_nested_phrase_takes_longest_match():
    assert bio("发展服务业", ["服务", "服务业"]) == "OOBII"
    assert bio("发展服务业", ["服务业", "服务"]) == "OOBII"


def test_nested_phrase_is_tagged_where_it_stands_alone():
    assert bio("服务业和服务", ["服务", "服务业"]) == "BIIOBI"


def test_adjacent_phrases_each_start_with_b():
    assert bio("服务物流", ["服务", "物流"]) == "BIBI"


def test_every_occurrence_is_tagged():
    assert bio("物流和物流和物流", ["物流"]) == "BIOBIOBI"


def test_phrase_at_very_start_and_very_end():
    assert bio("物流与电商", ["物流", "电商"]) == "BIOBI"
    assert bio("物流", ["物流"]) == "BI"


def test_overlap_goes_to_the_leftmost_match():
    # "AB" starts first, so it wins even though "BCD" is longer; "BCD" is left untagged.
    assert bio("ABCD", ["AB", "BCD"]) == "BIOO"
    assert bio("ABCD", ["BCD", "AB"]) == "BIOO"


def test_longest_wins_among_matches_starting_at_the_same_place():
    assert bio("ABCDE", ["AB", "ABC", "CDE"]) == "BIIOO"


def test_scan_resumes_after_the_chosen_match():
    # After "AB" at 0 the scan resumes at 2, where "CD" starts; "BC" never gets a chance.
    assert bio("ABCD", ["AB", "BC", "CD"]) == "BIBI"


def test_a_partial_prefix_of_a_long_phrase_does_not_block_a_later_match():
    assert bio("ABCX", ["ABCD", "BC"]) == "OBIO"


def test_no_phrases_or_empty_text_tags_nothing():
    assert bio("服务业", []) == "OOO"
    assert bio("服务业", [""]) == "OOO"
    assert tags_of("", ["服务"]) == []


def test_offsets_count_characters_not_bytes():
    # U+20BB7 is outside the BMP: one character in Python, four bytes in UTF-8.
    assert bio("\U00020bb7物流é服务", ["物流", "服务"]) == "OBIOBI"


def test_a_lone_surrogate_is_a_character_in_phrases_and_texts():
    # A JSON "\ud800" escape puts one in a text; it matches like any other character.
    assert bio("服务\ud800业", ["服务", "业"]) == "BIOB"
    assert bio("x服\ud800务", ["服\ud800务"]) == "OBII"


def test_label_text_returns_the_matches_it_tagged():
    matcher = PhraseMatcher(["服务", "物流"])
    _, matches = label_text("物流服务", matcher)
    assert [(matcher.phrases[i], s, e) for i, s, e in matches] == [("物流", 0, 2), ("服务", 2, 4)]
    assert matcher.find_spans("物流服务") == [Span(0, 2), Span(2, 4)]


def test_find_all_reports_overlapping_occurrences_too():
    matcher = PhraseMatcher(["AB", "BCD"])
    assert sorted((matcher.phrases[i], s, e) for i, s, e in matcher.find_all("ABCD")) == [
        ("AB", 0, 2),
        ("BCD", 1, 4),
    ]


@pytest.mark.parametrize("n_characters", [300, 17_000])  # two and four bytes per character inside the matcher
def test_matches_of_phrase_sets_with_many_distinct_characters_follow_the_rule(n_characters):
    rng = random.Random(n_characters)
    rare = [chr(c) for c in range(0x4E00, 0x4E00 + n_characters)]
    common = rare[:20] + ["\x00", "\U00020bb7"]
    phrases = ["".join(rare[i : i + 3]) for i in range(0, n_characters, 3)]
    phrases += ["".join(rng.choices(common, k=rng.randint(1, 4))) for _ in range(300)]
    pieces = rng.choices(phrases, k=800) + ["".join(rng.choices(common + ["z", "\U0010ffff"], k=3)) for _ in range(800)]
    rng.shuffle(pieces)
    text = "".join(pieces)
    matcher = PhraseMatcher(phrases)
    assert tags_of(text, phrases) == naive_leftmost_longest(text, phrases)
    assert matcher.find_all_array(text).tolist() == [list(m) for m in matcher.find_all(text)]
    assert matcher.find_array(text).tolist() == [list(m) for m in matcher.find(text)]
    every = sorted((s, e, matcher.phrases[i]) for i, s, e in matcher.find_all(text))
    listed = set(matcher.phrases)
    lengths = {len(p) for p in listed}
    assert every == [(s, s + n, text[s : s + n]) for s in range(len(text)) for n in sorted(lengths)
                     if text[s : s + n] in listed and s + n <= len(text)]


def test_match_arrays_are_empty_without_phrases_or_text():
    for matcher, text in ((PhraseMatcher([]), "物流"), (PhraseMatcher(["物流"]), ""), (PhraseMatcher(["物流"]), "服务")):
        for found in (matcher.find_array(text), matcher.find_all_array(text)):
            assert found.shape == (0, 3) and found.dtype == np.int64


def test_unknown_overlap_policy_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        PhraseMatcher(["服务"], overlap="shortest")


def test_duplicate_phrases_are_matched_once():
    assert PhraseMatcher(["服务", "服务", ""]).phrases == ("服务",)


ALPHABET = "ab、c"
texts = st.text(alphabet=ALPHABET, max_size=40)
raw_lists = st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=4), max_size=6)


@settings(max_examples=200, deadline=None)
@given(text=texts, raw=raw_lists)
def test_decoded_spans_are_cleaned_phrases(text, raw):
    cleaned = clean_phrases(raw, CleaningConfig()).kept
    tags, matches = label_text(text, PhraseMatcher(cleaned))
    starts, ends = tags_to_spans(tags)
    assert [(int(s), int(e)) for s, e in zip(starts, ends)] == [(s, e) for _, s, e in matches]
    assert all(text[s:e] in cleaned for s, e in zip(starts, ends))


@settings(max_examples=200, deadline=None)
@given(text=texts, phrases=raw_lists)
def test_every_occurrence_is_tagged_unless_it_overlaps_a_chosen_match(text, phrases):
    tags, _ = label_text(text, PhraseMatcher(phrases))
    chosen = set(zip(*(a.tolist() for a in tags_to_spans(tags))))
    for phrase in phrases:
        start = text.find(phrase)
        while start != -1:
            end = start + len(phrase)
            overlaps = any(s < end and start < e for s, e in chosen if (s, e) != (start, end))
            assert (start, end) in chosen or overlaps
            start = text.find(phrase, start + 1)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="abc", max_size=60), phrases=st.lists(st.text(alphabet="abc", max_size=5), max_size=8))
def test_matches_the_naive_leftmost_longest_rule(text, phrases):
    assert tags_of(text, phrases) == naive_leftmost_longest(text, phrases)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(LABELS), max_size=30))
def test_tag_strings_and_ids_round_trip(tags):
    assert tag_ids_to_strings(tag_strings_to_ids(tags)) == tags


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=20), st.lists(st.integers(1, 4), max_size=20))
def test_spans_to_tags_and_back_round_trip(gaps, lengths):
    starts, ends, position = [], [], 0
    for gap, length in zip(gaps, lengths):
        position += gap
        starts.append(position)
        ends.append(position + length)
        position += length
    tags = spans_to_tag_ids(position + 2, starts, ends)
    back_starts, back_ends = tags_to_spans(tags)
    assert back_starts.tolist() == starts and back_ends.tolist() == ends


def test_large_lexicon_and_multi_megabyte_document_label_without_error():
    rng = random.Random(0)
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    lexicon = list({"".join(rng.choices(hanzi, k=rng.randint(2, 6))) for _ in range(110_000)})[:100_000]
    pieces = [rng.choice(lexicon) if rng.random() < 0.5 else "".join(rng.choices(hanzi, k=3)) for _ in range(350_000)]
    text = "".join(pieces)
    assert len(lexicon) == 100_000 and len(text.encode("utf-8")) > 3_000_000

    matcher = PhraseMatcher(lexicon)
    tags, matches = label_text(text, matcher)
    assert tags.shape == (len(text),)
    assert len(matches) > 150_000  # about half the pieces are lexicon phrases
    starts, ends = tags_to_spans(tags)
    lexicon_set = set(lexicon)
    for s, e in zip(starts[:: 1000].tolist(), ends[:: 1000].tolist()):
        assert text[s:e] in lexicon_set
    # The rule holds over a long stretch too: compare a prefix, away from where it is cut.
    prefix = text[:20_000]
    assert tag_ids_to_strings(tags[:19_990]) == naive_leftmost_longest(prefix, lexicon)[:19_990]
    assert np.count_nonzero(tags) > len(text) // 3
