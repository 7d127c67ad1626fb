"""lexicon/general_idf.py (jieba's idf table) and the rescorer's ``general`` feature group."""

from __future__ import annotations

import numpy as np
import pytest

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.candidates import candidate_features, feature_names
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.lexicon import general_idf as module
from keyphrase_tagger.lexicon.general_idf import general_idf
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.lexicon.segmentation import segment
from keyphrase_tagger.records import O, Document

pytest.importorskip("jieba")


def test_the_table_gives_rare_words_high_idf_and_unknown_words_the_median():
    table = general_idf()
    idf, known = table.of_words(("商业银行", "发展", "的", "不是词语的字符串"))
    assert idf[0] > idf[1] > idf[2] > 0
    assert known.tolist() == [1.0, 1.0, 1.0, 0.0]
    assert idf[3] == table.median
    assert len(table.sha256) == 64


def test_general_columns_are_the_idf_of_the_candidates_words():
    text = "推动商业银行发展，推动商业银行发展。"
    lexicon = build_lexicon([Document("d", "商业银行服务", ["商业银行"])], with_words=True)
    probs = np.zeros((len(text), 3), dtype=np.float32)
    probs[:, O] = 1.0
    groups = ("document", "words", "general")
    names, x = candidate_features(text, probs, lexicon, CleaningConfig(), 0.5, groups)
    columns = dict(zip(feature_names(groups), x.T))
    words = segment(text)
    idf = dict(zip(words.strings, general_idf().of_words(words.strings)[0]))
    checked = 0
    for k, name in enumerate(names):
        parts = [w for w in dict.fromkeys(words.strings) if w in name]  # distinct words, in text order
        if "".join(parts) != name:  # a candidate that is not a run of the text's words in order
            continue
        values = [idf[w] for w in parts]
        assert columns["idf_mean"][k] == pytest.approx(np.mean(values))
        assert columns["idf_min"][k] == pytest.approx(min(values))
        assert columns["idf_max"][k] == pytest.approx(max(values))
        assert columns["log_count_x_idf_mean"][k] == pytest.approx(np.log(2) * np.mean(values))
        checked += 1
    assert checked >= 3  # 推动, 发展 and the runs of words, at least


def test_without_jieba_the_group_is_refused_in_one_line(monkeypatch):
    import importlib.resources

    def missing(name):
        raise ModuleNotFoundError(name)

    module.general_idf.cache_clear()
    monkeypatch.setattr(importlib.resources, "files", missing)
    try:
        with pytest.raises(ConfigError, match=r"keyphrase-tagger\[general\]"):
            general_idf()
    finally:
        module.general_idf.cache_clear()
