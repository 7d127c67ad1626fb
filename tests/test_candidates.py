"""candidates.py: candidate phrases (word runs, tagger spans, lexicon matches) and their features."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.corpus import read_corpus
from keyphrase_tagger.decision.candidates import (
    FEATURE_GROUPS,
    GROUPS,
    MAX_CHARS,
    MAX_WORDS,
    candidate_features,
    feature_names,
    word_runs,
)
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.lexicon.segmentation import NO_POS, POS_TAGS, segment
from keyphrase_tagger.records import B, Document, I, O

CLEANING = CleaningConfig()
CORPUS = Path(__file__).resolve().parents[1] / "data" / "raw" / "policy_keyphrases.txt"
TRAIN = [
    Document("a", "数字经济发展，绿色发展", ("数字经济", "绿色发展")),
    Document("b", "推动服务业发展，数字经济", ("服务业",)),
]


def test_word_runs_stop_at_strip_characters_and_short_strings():
    text = "推动服务业发展，数字经济"
    assert word_runs(text, segment(text), CLEANING) == {
        "推动", "服务业", "发展", "推动服务业", "服务业发展", "推动服务业发展", "数字", "经济", "数字经济"}


def test_word_runs_hold_at_most_max_words_words():
    text = "推动服务业发展数字经济"
    words = segment(text)
    assert len(words) > MAX_WORDS
    runs = word_runs(text, words, CLEANING)
    spans = {"".join(words.strings[a : b + 1]): b - a + 1 for a in range(len(words)) for b in range(a, len(words))}
    assert runs == {r for r, k in spans.items() if k <= MAX_WORDS and len(r) >= 2}
    assert "".join(words.strings[: MAX_WORDS + 1]) not in runs


def test_larger_word_limits_add_the_longer_runs_only():
    text = "国家推动现代服务业高质量发展和数字经济"
    words = segment(text)
    assert len(words) > 6
    short, long = word_runs(text, words, CLEANING), word_runs(text, words, CLEANING, (6, 20))
    spans = {"".join(words.strings[a : b + 1]): b - a + 1 for a in range(len(words)) for b in range(a, len(words))}
    assert short == {r for r, k in spans.items() if k <= MAX_WORDS and 2 <= len(r) <= MAX_CHARS}
    assert long == {r for r, k in spans.items() if k <= 6 and 2 <= len(r) <= 20}
    assert short < long and any(spans[r] > MAX_WORDS for r in long - short)
    assert word_runs(text, words, CLEANING, (6, 5)) == {r for r in long if len(r) <= 5}


def test_feature_names_follow_the_groups_and_reject_unknown_ones():
    assert feature_names(GROUPS) == ("bias", *(n for g in GROUPS for n in FEATURE_GROUPS[g]))
    assert feature_names(("tagger", "document")) == ("bias", *FEATURE_GROUPS["document"], *FEATURE_GROUPS["tagger"])
    with pytest.raises(ValueError, match="unknown"):
        feature_names(("nope",))


def test_words_group_needs_word_statistics():
    with pytest.raises(ValueError, match="word statistics"):
        candidate_features("数字经济", np.full((4, 3), 1 / 3), build_lexicon(TRAIN), CLEANING, 0.5, GROUPS)


@pytest.mark.parametrize("groups", [("lexicon",), ("tagger", "words"), ("lexicon", "context"), ("words", "document")])
def test_a_groups_columns_are_the_same_whichever_other_groups_are_chosen(groups):
    lexicon = build_lexicon(TRAIN, with_words=True)
    text = "推动服务业发展，数字经济和绿色发展"
    probs = np.random.default_rng(0).dirichlet([1.0, 1.0, 1.0], size=len(text))
    names, x = candidate_features(text, probs, lexicon, CLEANING, 0.5, groups)
    all_names, all_x = candidate_features(text, probs, lexicon, CLEANING, 0.5, GROUPS)
    assert names and set(names) <= set(all_names)
    columns = [feature_names(GROUPS).index(c) for c in feature_names(groups)]
    np.testing.assert_array_equal(x, all_x[[all_names.index(n) for n in names]][:, columns])


def test_a_word_that_precedes_listed_phrases_raises_the_context_rate():
    # In training, 推动 is always followed by a listed phrase; 的 never is.
    train = [Document("a", "推动服务业发展的目标", ("服务业",)), Document("b", "推动数字经济的目标", ("数字经济",))]
    lexicon = build_lexicon(train, with_words=True)
    text = "推动绿色发展的绿色发展"
    names, x = candidate_features(text, np.full((len(text), 3), 1 / 3), lexicon, CLEANING, 0.5, GROUPS)
    row = x[names.index("绿色发展")]
    columns = feature_names(GROUPS)
    # Its first occurrence follows 推动 (2 of 2 occurrences followed by a phrase), its second 的 (0 of 2).
    assert row[columns.index("before_start_rate")] == pytest.approx(2.1 / 3)
    assert row[columns.index("max_before_start_rate")] == pytest.approx(2.1 / 3)
    assert row[columns.index("mean_before_start_rate")] == pytest.approx((2.1 / 3 + 0.1 / 3) / 2)


def test_without_the_tagger_candidates_come_from_words_and_the_lexicon_only():
    text = "推动服务业发展，数字经济"
    probs = np.zeros((len(text), 3))
    probs[:, B] = 1.0  # a tagger that marks every character: ignored without the tagger group
    names, x = candidate_features(text, probs, build_lexicon(TRAIN, with_words=True), CLEANING, 0.5,
                                  ("document", "lexicon", "words"))
    assert set(names) == word_runs(text, segment(text), CLEANING)
    assert x.shape == (len(names), len(feature_names(("document", "lexicon", "words"))))


def naive_features(text: str, probs: np.ndarray, lexicon, phrase: str) -> dict[str, float]:
    """The features of one candidate by direct loops over its occurrences: the specification."""
    n, length = len(text), len(phrase)
    starts = [s for s in range(n - length + 1) if text.startswith(phrase, s)]
    words = segment(text)
    word_starts, word_ends = set(words.starts.tolist()), set(words.ends.tolist())
    aligned = [s for s in starts if s in word_starts and s + length in word_ends]
    ref = aligned[0] if aligned else starts[0]
    char_word = words.index_of_chars(n)
    a, b = int(char_word[ref]), int(char_word[ref + length - 1])
    rates = lexicon.words.rates(words.strings)
    inside = [1.0 - probs[s : s + length, O].mean() for s in starts]
    out = {
        "log_count": np.log(len(starts)), "first_position": starts[0] / n,
        "score_max": max(inside), "score_mean": np.mean(inside), "p_begin": np.mean([probs[s, B] for s in starts]),
        "end_ok": np.mean([1.0 - probs[s + length, I] if s + length < n else 1.0 for s in starts]),
        "n_words": b - a + 1, "log_aligned": np.log1p(len(aligned)), "all_aligned": float(len(aligned) == len(starts)),
        "first_start_rate": rates[a, 1], "last_end_rate": rates[b, 2], "min_inside_rate": rates[a : b + 1, 3].min(),
        "mean_inside_rate": rates[a : b + 1, 3].mean(), "rate": lexicon.rate(phrase),
    }
    before = POS_TAGS[words.pos[a - 1]] if a > 0 and words.pos[a - 1] < len(POS_TAGS) else None
    after = POS_TAGS[words.pos[b + 1]] if b + 1 < len(words) and words.pos[b + 1] < len(POS_TAGS) else None
    if a == 0:
        out["before_pos_none"] = 1.0
    elif before is not None:
        out[f"before_pos_{before}"] = 1.0
    if b + 1 == len(words):
        out["after_pos_none"] = 1.0
    elif after is not None:
        out[f"after_pos_{after}"] = 1.0
    # context: the rates of the words next to the describing occurrence (none there: 0 and 0.1),
    # then over every occurrence that starts (ends) on a word boundary with a word before (after) it.
    out["before_log_occurs"], out["before_start_rate"] = (rates[a - 1, 0], rates[a - 1, 4]) if a > 0 else (0.0, 0.1)
    out["after_log_occurs"], out["after_end_rate"] = ((rates[b + 1, 0], rates[b + 1, 5]) if b + 1 < len(words)
                                                      else (0.0, 0.1))
    each_before = [rates[char_word[s] - 1, 4] if s in word_starts and char_word[s] > 0 else 0.0 for s in starts]
    each_after = [rates[char_word[s + length - 1] + 1, 5]
                  if s + length in word_ends and char_word[s + length - 1] + 1 < len(words) else 0.0 for s in starts]
    out |= {"mean_before_start_rate": np.mean(each_before), "max_before_start_rate": max(each_before),
            "mean_after_end_rate": np.mean(each_after), "max_after_end_rate": max(each_after)}
    paths = [span_log_prob(probs, s, s + length) for s in starts]
    out |= {"span_log_prob_max": max(paths), "span_log_prob_mean": np.mean(paths),
            "span_log_prob_per_char_max": max(paths) / length}
    for side, neighbours in (("left", [text[s - 1] if s > 0 else None for s in starts]),
                             ("right", [text[s + length] if s + length < n else None for s in starts])):
        shares = np.array(list(Counter(neighbours).values())) / len(starts)
        out |= {f"{side}_log_variety": np.log1p(len(shares)), f"{side}_entropy": -(shares * np.log(shares)).sum(),
                f"{side}_top_share": shares.max()}
    return out


def span_log_prob(probs: np.ndarray, start: int, end: int) -> float:
    """log P(B-KP at start, I-KP up to end, no I-KP at end), each factor floored at 1e-6."""
    def log(p: float) -> float:
        return float(np.log(max(p, 1e-6)))

    after = log(1.0 - probs[end, I]) if end < len(probs) else 0.0
    return log(probs[start, B]) + sum(log(probs[i, I]) for i in range(start + 1, end)) + after


def test_vectorised_features_match_direct_loops_on_a_corpus_document():
    raw = read_corpus(CORPUS)
    train = [Document(r.doc_id, r.text, r.raw_phrases) for r in raw[1:6]]
    text = raw[0].text[:1500]
    lexicon = build_lexicon(train, with_words=True)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=len(text))
    names, x = candidate_features(text, probs, lexicon, CLEANING, 0.5, GROUPS)
    columns = feature_names(GROUPS)
    assert NO_POS == len(POS_TAGS) + 1
    for phrase in [names[k] for k in rng.choice(len(names), size=40, replace=False)]:
        row = x[names.index(phrase)]
        for name, value in naive_features(text, probs, lexicon, phrase).items():
            assert row[columns.index(name)] == pytest.approx(value), (phrase, name)
        pos_columns = [c for c in columns if c.startswith(("before_pos_", "after_pos_"))]
        assert sum(row[columns.index(c)] for c in pos_columns) == 2.0


def test_relative_columns_place_each_candidate_among_its_texts_candidates():
    lexicon = build_lexicon(TRAIN, with_words=True)
    text = "推动服务业发展，数字经济和绿色发展，数字经济"
    probs = np.random.default_rng(1).dirichlet([1.0, 1.0, 1.0], size=len(text))
    groups = ("document", "lexicon", "tagger", "words", "relative")
    names, x = candidate_features(text, probs, lexicon, CLEANING, 0.5, groups)
    columns = dict(zip(feature_names(groups), x.T))
    counts = np.exp(columns["log_count"])
    scores = columns["score_max"]
    assert len(names) > 5 and counts.max() >= 2
    np.testing.assert_allclose(columns["log_text_chars"], np.log(len(text)))
    np.testing.assert_allclose(columns["log_count_per_kchar"], np.log(counts * 1000 / len(text)))
    for k in range(len(names)):
        assert columns["tagger_rank"][k] == np.mean(scores < scores[k])
        assert columns["count_rank"][k] == pytest.approx(np.mean(counts < counts[k] - 1e-9))


def test_span_columns_prefer_the_span_the_tagger_marks_whole():
    text = "推动数字经济发展"
    probs = np.tile([0.98, 0.01, 0.01], (len(text), 1))
    probs[2] = [0.01, 0.98, 0.01]  # 数 begins a span,
    probs[3:6] = [0.01, 0.01, 0.98]  # 字经济 continue it
    groups = ("document", "lexicon", "tagger", "words", "span")
    names, x = candidate_features(text, probs, build_lexicon(TRAIN, with_words=True), CLEANING, 0.5, groups)
    column = dict(zip(feature_names(groups), x.T))["span_log_prob_max"]
    score = dict(zip(names, column))
    assert score["数字经济"] == pytest.approx(span_log_prob(probs, 2, 6))
    assert score["数字经济"] > -0.1  # about log(0.98 ** 5)
    assert score["数字"] < np.log(0.02)  # cut inside the span: the next character says I-KP
    assert score["数字经济"] > max(v for k, v in score.items() if k != "数字经济")


def test_branching_columns_tell_a_fragment_from_a_unit():
    text = "商业银行贷款，发展商业银行，商业银行服务"
    groups = ("document", "lexicon", "words", "branching")
    probs = np.tile([1.0, 0.0, 0.0], (len(text), 1))
    lexicon = build_lexicon([*TRAIN, Document("c", "商业", ("商业",))], with_words=True)  # 商业: a lexicon match
    names, x = candidate_features(text, probs, lexicon, CLEANING, 0.5, groups)
    columns = dict(zip(feature_names(groups), x.T))
    at = {name: k for k, name in enumerate(names)}
    # 商业银行: the text's start, ， and 展 before it; 贷, ， and 服 after it: three of each, evenly.
    unit = at["商业银行"]
    assert columns["left_log_variety"][unit] == pytest.approx(np.log1p(3))
    assert columns["right_entropy"][unit] == pytest.approx(np.log(3))
    assert columns["right_top_share"][unit] == pytest.approx(1 / 3)
    # 商业: 银 after each of its three occurrences, nothing else.
    fragment = at["商业"]
    assert columns["right_log_variety"][fragment] == pytest.approx(np.log1p(1))
    assert columns["right_entropy"][fragment] == 0.0
    assert columns["right_top_share"][fragment] == 1.0
