"""KeyphraseExtractor: phrases with exact offsets from a checkpoint, whatever the input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import CORPUS

from keyphrase_tagger import KeyphraseExtractor
from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.decoder import decode_phrases
from keyphrase_tagger.decision.kinds import Argmax, load_decision
from keyphrase_tagger.decision.rescorer import RescorerDecision
from keyphrase_tagger.errors import CheckpointError, ConfigError
from keyphrase_tagger.inference.extractor import resolve_device
from keyphrase_tagger.records import Phrase
from keyphrase_tagger.tagger.encoding import build_char_vocab, make_char_tokenizer

PHRASE = "现代服务业"
FILLER = "加快推进完善提升促进支持鼓励强化优化建设"
ODD_TEXTS = [
    "",
    " ",
    " \t\n\u3000 ",
    "服务业\t发展\n跨境电商\r\n物流",
    "ABC abc 123 服务业",
    "ＡＢＣ全角服务业１２３",
    "😀服务业🇨🇳发展😀",
    "發展現代服務業與跨境電商",
    "\x00服务\x1f业\x7f",
    "，。、（）“”",
]


class RunTagger(torch.nn.Module):
    """A stand-in model that sees only its window: each run of ``targets`` tokens it sees is a
    phrase (B-KP, then I-KP); everything else is O. A window that sees only part of a phrase tags
    that part as a phrase of its own, as a real model tends to near a window edge."""

    def __init__(self, targets: set[int]) -> None:
        super().__init__()
        self.targets = torch.tensor(sorted(targets))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        inside = torch.isin(input_ids, self.targets)
        before = torch.zeros_like(inside)
        before[:, 1:] = inside[:, :-1]
        tags = torch.where(inside & ~before, 1, torch.where(inside, 2, 0))
        return SimpleNamespace(logits=torch.nn.functional.one_hot(tags, 3).float() * 100.0)


@pytest.fixture(scope="module")
def stub_tokenizer():
    return make_char_tokenizer(build_char_vocab([PHRASE + FILLER]), model_max_length=64)


def stub_extractor(tokenizer, max_chars: int, stride: int, chars: str = PHRASE, batch_size: int = 4):
    targets = {tokenizer.convert_tokens_to_ids(c) for c in chars}
    settings = CheckpointSettings(max_chars=max_chars, stride=stride, cleaning=CleaningConfig())
    return KeyphraseExtractor(RunTagger(targets), tokenizer, settings, device="cpu", batch_size=batch_size)


@pytest.fixture(scope="module")
def extractor(smoke_checkpoint):
    return KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu", batch_size=8)


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    return CORPUS.read_text(encoding="utf-8").splitlines()[0::2]


def assert_exact(text: str, phrases: list[Phrase], may_nest: bool = False) -> None:
    for p in phrases:
        assert p.text == text[p.start : p.end]
        assert 0.0 <= p.score <= 1.0
    if may_nest:  # the rescorer's accepted strings: every occurrence, in text order, each once
        spans = [(p.start, p.end) for p in phrases]
        assert spans == sorted(set(spans))
    else:
        assert all(a.end <= b.start for a, b in zip(phrases, phrases[1:]))


def may_nest(extractor: KeyphraseExtractor) -> bool:
    return isinstance(extractor.decision, RescorerDecision) and extractor.decision.rescorer.nested


@pytest.mark.parametrize("max_chars,stride", [(10, 4), (10, 2), (7, 6), (12, 5)])
def test_a_phrase_cut_by_a_window_edge_is_found_whole(stub_tokenizer, max_chars, stride):
    extractor = stub_extractor(stub_tokenizer, max_chars, stride)
    for offset in range(0, 30):
        text = (FILLER * 2)[:offset] + PHRASE + FILLER[: 30 - offset % 20]
        assert extractor.extract(text) == [Phrase(PHRASE, offset, offset + len(PHRASE), 1.0)], offset


def test_phrases_in_every_window_of_a_long_text_are_found(stub_tokenizer):
    extractor = stub_extractor(stub_tokenizer, max_chars=16, stride=6, batch_size=3)
    pieces, expected, position = [], [], 0
    for k in range(200):
        filler = FILLER[: 1 + (k * 7) % 13]
        pieces += [filler, PHRASE]
        position += len(filler)
        expected.append(Phrase(PHRASE, position, position + len(PHRASE), 1.0))
        position += len(PHRASE)
    assert extractor.extract("".join(pieces)) == expected


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_offsets_are_exact_on_odd_inputs_when_everything_is_tagged(stub_tokenizer, text):
    # Every character of the vocabulary and [UNK] is "inside": spans run over whole texts, so any
    # shift between characters and tokens would show as a wrong offset or substring.
    everything = set(range(len(stub_tokenizer)))
    extractor = stub_extractor(stub_tokenizer, max_chars=6, stride=2, chars="")
    extractor.model.targets = torch.tensor(sorted(everything))
    phrases = extractor.extract(text)
    assert_exact(text, phrases)
    # One span over the whole text, trimmed of strip characters at both ends by the cleaning.
    strip = CleaningConfig().strip_chars
    start, end = len(text) - len(text.lstrip(strip)), len(text.rstrip(strip))
    expected = [Phrase(text[start:end], start, end, 1.0)] if end - start >= 2 else []
    assert phrases == expected


def test_settings_without_a_decision_read_the_tags_by_argmax(stub_tokenizer):
    extractor = stub_extractor(stub_tokenizer, max_chars=10, stride=4)
    assert extractor.decision == Argmax()
    text = FILLER[:5] + PHRASE + FILLER[:3]
    (decided,), (probs,) = extractor.predict([text]), extractor.predict_probs([text])
    np.testing.assert_array_equal(decided.tags, probs.argmax(axis=-1))
    assert [(s, e) for s, e, _ in decided.spans] == [(5, 5 + len(PHRASE))]


def test_predict_is_what_extract_decodes_with_the_checkpoints_decision(extractor, corpus_texts):
    assert extractor.decision == load_decision(extractor.settings.decision)
    texts = [corpus_texts[0][:500], "", "服务业"]
    decided = extractor.predict(texts)
    assert [d.tags.shape for d in decided] == [(len(t),) for t in texts]
    assert [decode_phrases(t, d, extractor.settings.cleaning) for t, d in zip(texts, decided)] == (
        extractor.extract_many(texts))


@pytest.mark.parametrize("text", ["", " ", "\t\n", " \u3000\r\n"])
def test_empty_and_whitespace_only_texts_have_no_phrases(extractor, text):
    assert extractor.extract(text) == []


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_offsets_are_exact_on_odd_inputs_with_a_trained_checkpoint(extractor, text):
    assert_exact(text, extractor.extract(text), may_nest(extractor))


def test_extract_many_equals_extract_on_each(extractor, corpus_texts):
    texts = [corpus_texts[0][:700], "", *ODD_TEXTS, corpus_texts[1][:90], corpus_texts[2][:3000], "服务业"]
    many = extractor.extract_many(texts)
    alone = [extractor.extract(t) for t in texts]
    # The same spans; scores to float32 rounding, since a batch's size and padding change the
    # order of the model's sums (by an ulp of a logit on this CPU's kernels).
    assert [[(p.text, p.start, p.end) for p in ps] for ps in many] == \
        [[(p.text, p.start, p.end) for p in ps] for ps in alone]
    assert [[p.score for p in ps] for ps in many] == [[pytest.approx(p.score, abs=1e-5) for p in ps] for ps in alone]
    assert sum(len(p) for p in many) > 0, "the smoke checkpoint should tag something on corpus text"
    for text, phrases in zip(texts, many):
        assert_exact(text, phrases, may_nest(extractor))


def test_extract_many_accepts_any_iterable_and_options(extractor, corpus_texts):
    texts = [corpus_texts[0][:500], corpus_texts[3][:500]]
    assert extractor.extract_many(iter(texts)) == extractor.extract_many(texts)
    best = extractor.extract_many(texts, top_k=2, unique=True)
    assert all(len(p) <= 2 for p in best)
    for text, phrases in zip(texts, extractor.extract_many(texts, min_score=0.5)):
        assert all(p.score >= 0.5 for p in phrases)


def test_a_document_of_100k_characters_works(smoke_checkpoint, corpus_texts):
    extractor = KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu", batch_size=256)
    text = "".join(corpus_texts)[:100_000] + "😀 ＡＢ\t發"
    phrases = extractor.extract(text)
    assert phrases, "the smoke checkpoint tags something in 100k characters of corpus text"
    assert phrases[-1].end <= len(text)
    assert_exact(text, phrases, may_nest(extractor))


def test_cpu_device_is_honoured(extractor):
    assert extractor.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in extractor.model.parameters())


def test_a_directory_that_is_not_a_checkpoint_is_refused(tmp_path, smoke_run):
    with pytest.raises(CheckpointError, match="not found"):
        KeyphraseExtractor.from_pretrained(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not a keyphrase-tagger checkpoint"):
        KeyphraseExtractor.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="pass the run's model/ directory"):
        KeyphraseExtractor.from_pretrained(smoke_run)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8", None])
def test_a_batch_size_that_is_not_a_positive_integer_is_refused(stub_tokenizer, batch_size):
    with pytest.raises(ConfigError, match="batch_size="):
        stub_extractor(stub_tokenizer, max_chars=10, stride=4, batch_size=batch_size)


@pytest.mark.parametrize("chunk_chars", [0, -1, 2.5, True, "8"])
def test_a_chunk_size_that_is_neither_null_nor_a_positive_integer_is_refused(stub_tokenizer, tmp_path, chunk_chars):
    with pytest.raises(ConfigError, match="chunk_chars="):
        KeyphraseExtractor.from_pretrained(tmp_path, chunk_chars=chunk_chars)  # before any file is read


def test_a_long_text_decided_in_pieces_gives_the_phrases_of_the_whole_where_phrases_are_local(stub_tokenizer):
    """The stub's phrases are runs of characters (an argmax decision, nothing document-level), so
    cutting the text after its punctuation changes none of them."""
    text = "".join(FILLER[: 1 + (k * 7) % 13] + PHRASE + "，" for k in range(60))
    whole = stub_extractor(stub_tokenizer, max_chars=16, stride=6)
    in_pieces = stub_extractor(stub_tokenizer, max_chars=16, stride=6)
    in_pieces.chunk_chars = 40
    assert len(text) > 10 * in_pieces.chunk_chars
    assert in_pieces.extract(text) == whole.extract(text) and len(whole.extract(text)) == 60


def test_loading_with_a_bad_batch_size_is_refused_before_the_model_loads(tmp_path):
    # The directory is no checkpoint at all: the batch size is judged first.
    with pytest.raises(ConfigError, match="batch_size=-1"):
        KeyphraseExtractor.from_pretrained(tmp_path, batch_size=-1)


@pytest.mark.parametrize("device", ["banana", "CPU", "cuda:x", "", "meta"])
def test_a_device_torch_does_not_know_or_cannot_run_on_is_refused(device):
    with pytest.raises(ConfigError, match="device="):
        resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", 0])
def test_cuda_on_a_machine_without_it_is_refused(device):
    with pytest.raises(ConfigError, match="no cuda device"):
        resolve_device(device)


def test_cpu_and_auto_devices_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_one_string_where_many_texts_are_expected_is_refused(extractor):
    for call in (extractor.extract_many, extractor.predict, extractor.predict_probs):
        with pytest.raises(TypeError, match="expected a sequence of texts, got one str"):
            call("现代服务业")
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        extractor.extract_many(["现代服务业", 5])


def test_a_lone_surrogate_is_refused_naming_the_text_and_character(extractor):
    with pytest.raises(ValueError, match=r"texts\[1\]: character 2 is a lone surrogate U\+D800"):
        extractor.extract_many(["现代服务业", "服务\ud800业"])
    with pytest.raises(ValueError, match=r"texts\[0\]: character 0 is a lone surrogate U\+DC00"):
        extractor.extract("\udc00现代服务业")


def test_importable_from_the_package_root():
    import keyphrase_tagger

    assert keyphrase_tagger.KeyphraseExtractor is KeyphraseExtractor
