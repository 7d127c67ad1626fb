"""A long text decided piece by piece (decision/pieces.py): where it is cut, that a text within
the chunk is decided exactly as before, and that the pieces' results are joined at their offsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.corpus import read_corpus
from keyphrase_tagger.decision.candidates import GROUPS, feature_names
from keyphrase_tagger.decision.kinds import Argmax
from keyphrase_tagger.decision.pieces import decide_in_pieces, piece_bounds
from keyphrase_tagger.decision.rescorer import Rescorer, RescorerDecision
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.records import B, I, O, Document

CORPUS = Path(__file__).resolve().parents[1] / "data" / "raw" / "policy_keyphrases.txt"
STRIP = CleaningConfig().strip_chars


@pytest.fixture(scope="module")
def text_and_decision():
    """A corpus text of 3,000 characters and a rescorer with random weights that accepts many
    phrases, over a lexicon of other documents."""
    raw = read_corpus(CORPUS)
    lexicon = build_lexicon([Document(r.doc_id, r.text, r.raw_phrases) for r in raw[3:8]], with_words=True)
    rng = np.random.default_rng(0)
    n = len(feature_names(GROUPS))
    rescorer = Rescorer(0.5, tuple(rng.normal(size=n) * 0.1), tuple(rng.uniform(0.5, 2.0, size=n)),
                        tuple(rng.normal(size=8)), 0.3, tuple(map(tuple, rng.normal(size=(8, n)) * 0.3)),
                        tuple(rng.normal(size=8) * 0.1), GROUPS, True)
    return raw[0].text[:3000], RescorerDecision(rescorer, lexicon, CleaningConfig())


def probs_of(text: str, seed: int = 0) -> np.ndarray:
    """Tagger-like float32 probabilities: runs of B/I, strip characters (punctuation) always O."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([4.0, 1.0, 1.0], size=len(text))
    inside = np.repeat(rng.random(len(text) // 6 + 1) < 0.4, 6)[: len(text)]
    probs[inside] = probs[inside][:, [1, 0, 2]] * 0.3 + probs[inside][:, [2, 1, 0]] * 0.7
    punctuation = np.array([ch in STRIP for ch in text])
    probs[punctuation] = [0.9, 0.05, 0.05]
    return probs.astype(np.float32)


def test_pieces_tile_the_text_within_the_chunk_and_end_after_a_strip_character():
    text = "推动服务业高质量发展，完善养老服务体系。" * 40 + "数字经济" * 30
    bounds = piece_bounds(text, 50, STRIP)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a < b <= a + 50 for a, b in bounds)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(bounds, bounds[1:]))
    assert all(text[b - 1] in STRIP for _, b in bounds if b <= 800)  # where punctuation is near, cut after it
    assert piece_bounds("数字经济" * 30, 50, STRIP) == [(0, 50), (50, 100), (100, 120)]  # none: cut at the chunk
    assert piece_bounds(text, len(text), STRIP) == [(0, len(text))]


def test_a_text_within_the_chunk_is_decided_as_a_whole(text_and_decision):
    text, decision = text_and_decision
    probs = probs_of(text)
    whole = decision.decide(text, probs)
    for chunk_chars in (None, len(text)):
        got = decide_in_pieces(decision, text, probs, chunk_chars, STRIP)
        np.testing.assert_array_equal(got.tags, whole.tags)
        assert got.spans == whole.spans


def test_a_longer_text_is_its_pieces_decided_alone_and_joined_at_their_offsets(text_and_decision):
    text, decision = text_and_decision
    probs = probs_of(text)
    got = decide_in_pieces(decision, text, probs, 700, STRIP)
    bounds = piece_bounds(text, 700, STRIP)
    assert len(bounds) >= 5
    expected_spans, expected_tags = [], []
    for a, b in bounds:
        piece = decision.decide(text[a:b], probs[a:b])
        expected_tags.append(piece.tags)
        expected_spans += [(s + a, e + a, p) for s, e, p in piece.spans]
    np.testing.assert_array_equal(got.tags, np.concatenate(expected_tags))
    assert got.spans == tuple(expected_spans) and len(got.spans) > 100
    assert all(text[s:e] for s, e, _ in got.spans) and [s for s, _, _ in got.spans] == sorted(s for s, _, _ in got.spans)


def test_a_decision_that_reads_characters_alone_gives_the_same_result_in_pieces(text_and_decision):
    text, _ = text_and_decision
    probs = probs_of(text, seed=3)
    assert (probs[:, [B, I]].max(axis=1) > probs[:, O]).sum() > 100  # phrases to cut through, were the cuts wrong
    whole = Argmax().decide(text, probs)
    pieces = decide_in_pieces(Argmax(), text, probs, 200, STRIP)
    np.testing.assert_array_equal(pieces.tags, whole.tags)
    assert [(s, e) for s, e, _ in pieces.spans] == [(s, e) for s, e, _ in whole.spans]
    # Scores are means over a span's characters: equal up to the rounding of the running sums.
    np.testing.assert_allclose([p for *_, p in pieces.spans], [p for *_, p in whole.spans], rtol=0, atol=1e-9)


def test_the_api_default_piece_is_the_one_kpt_predict_and_kpt_evaluate_use():
    from omegaconf import OmegaConf

    from keyphrase_tagger.decision.pieces import DECIDE_CHUNK_CHARS

    configs = Path(__file__).resolve().parents[1] / "configs"
    for name in ("predict.yaml", "evaluate.yaml"):
        assert OmegaConf.load(configs / name).chunk_chars == DECIDE_CHUNK_CHARS, name
