"""Phrase-list cleaning: the pinned strip set, min_chars, stop phrases, de-duplication, order kept."""

from __future__ import annotations

import pytest
from conftest import compose
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.cleaning import (
    DEFAULT_STRIP_CHARS,
    CleaningConfig,
    clean_phrases,
    reject_reason,
    strip_span,
)

# The set the issue pins, written out independently of the code: the team checks labels against it.
PINNED_STRIP_CHARS = "、，,。．.；;：:！!？?（）()“”\"‘’'《》〈〉【】[]「」『』" + " \t\r\n\u3000"


def kept(raw: list[str], **config) -> list[str]:
    return list(clean_phrases(raw, CleaningConfig(**config)).kept)


def test_default_strip_set_is_exactly_the_pinned_set():
    assert set(DEFAULT_STRIP_CHARS) == set(PINNED_STRIP_CHARS)
    assert CleaningConfig().strip_chars == DEFAULT_STRIP_CHARS


@pytest.mark.parametrize("char", list(PINNED_STRIP_CHARS), ids=lambda c: f"U+{ord(c):04X}")
def test_every_pinned_character_is_stripped_from_both_ends(char):
    assert kept([f"{char}{char}服务业{char}"]) == ["服务业"]


def test_strip_characters_inside_a_phrase_are_kept():
    assert kept(["京津冀协同发展、粤港澳大湾区建设，"]) == ["京津冀协同发展、粤港澳大湾区建设"]


def test_characters_outside_the_set_are_not_stripped():
    assert kept(["-服务业*", "〔服务〕"]) == ["-服务业*", "〔服务〕"]


def test_config_defaults_are_the_pinned_defaults():
    cfg = CleaningConfig.from_dict(compose("prepare").data.cleaning)
    assert cfg == CleaningConfig()
    assert (cfg.min_chars, cfg.stop_phrases) == (2, frozenset())


def test_config_strip_chars_overrides_the_pinned_set():
    cfg = CleaningConfig.from_dict({"strip_chars": "#"})
    assert list(clean_phrases(["#服务，", "、物流#"], cfg).kept) == ["服务，", "、物流"]


def test_phrases_shorter_than_min_chars_are_dropped_after_stripping():
    cleaned = clean_phrases(["的", "特、", "服务", "融资需"], CleaningConfig())
    assert cleaned.kept == ("服务", "融资需")
    assert cleaned.dropped == (("too_short", "的"), ("too_short", "特"))
    assert kept(["的", "服务", "融资需"], min_chars=3) == ["融资需"]
    assert kept(["的"], min_chars=1) == ["的"]


def test_phrase_of_strip_characters_only_is_dropped_as_empty():
    cleaned = clean_phrases(["、", "", " \u3000"], CleaningConfig())
    assert cleaned.kept == ()
    assert [rule for rule, _ in cleaned.dropped] == ["empty", "empty", "empty"]


def test_stop_phrases_drop_exact_matches_after_stripping():
    cleaned = clean_phrases(["服务，", "服务业", "有关"], CleaningConfig(stop_phrases=frozenset({"服务", "有关"})))
    assert cleaned.kept == ("服务业",)
    assert cleaned.dropped == (("stop_phrase", "服务"), ("stop_phrase", "有关"))


def test_stop_phrases_come_from_config_lists():
    cfg = compose("prepare", ["data.cleaning.stop_phrases=['有关','相关']"]).data.cleaning
    assert CleaningConfig.from_dict(cfg).stop_phrases == frozenset({"有关", "相关"})


def test_duplicates_are_dropped_keeping_the_first_in_list_order():
    cleaned = clean_phrases(["物流", "服务业", "服务业，", "物流", "电商"], CleaningConfig())
    assert cleaned.kept == ("物流", "服务业", "电商")
    assert cleaned.dropped == (("duplicate", "服务业"), ("duplicate", "物流"))


def test_strip_span_moves_offsets_past_strip_characters():
    text = "（服务业）。"
    assert strip_span(text, 0, len(text), DEFAULT_STRIP_CHARS) == (1, 4)
    assert strip_span("、、", 0, 2, DEFAULT_STRIP_CHARS) == (2, 2)


def test_reject_reason_names_the_rule():
    config = CleaningConfig(stop_phrases=frozenset({"有关"}))
    assert [reject_reason(p, config) for p in ["", "的", "有关", "服务"]] == ["empty", "too_short", "stop_phrase", None]


@settings(max_examples=150, deadline=None)
@given(
    raw=st.lists(st.text(alphabet="服务业、，。 ()", max_size=6), max_size=12),
    min_chars=st.integers(0, 3),
)
def test_cleaning_accounts_for_every_entry_and_keeps_first_seen_order(raw, min_chars):
    config = CleaningConfig(min_chars=min_chars)
    cleaned = clean_phrases(raw, config)
    assert len(cleaned.kept) + len(cleaned.dropped) == len(raw)
    assert len(set(cleaned.kept)) == len(cleaned.kept)
    for phrase in cleaned.kept:
        assert len(phrase) >= max(1, min_chars)
        assert phrase[0] not in PINNED_STRIP_CHARS and phrase[-1] not in PINNED_STRIP_CHARS
    first_seen = list(dict.fromkeys(p.strip(PINNED_STRIP_CHARS) for p in raw))
    assert list(cleaned.kept) == [p for p in first_seen if p and len(p) >= min_chars]
