"""Labeling stats: what was kept, dropped by which rule (with examples), shadowed, tagged; per split."""

from __future__ import annotations

from pathlib import Path

from conftest import compose

from keyphrase_tagger.data.prepare import prepare_corpus
from keyphrase_tagger.data.splits import SPLITS
from keyphrase_tagger.data.stats import (
    DROP_REASONS,
    MAX_EXAMPLES,
    DocumentStats,
    format_stats_table,
    pool_stats,
)

# The first document trips every rule: "的" too short, "、" empty once stripped, "有关" a stop
# phrase, "服务业，" a duplicate once stripped, "港口" missing from the text, and "物流园" shadowed:
# it only occurs inside "现代物流园区", which the scan chose first.
RULES_CORPUS = (
    "推进现代物流园区和服务业发展有关工作\n"
    "[服务业,的,、,有关,服务业，,港口,现代物流园区,物流园]\n"
    "发展跨境电商\n"
    "[跨境电商]\n"
)


def prepared(tmp_path: Path, content: str, *overrides: str):
    path = tmp_path / "corpus.txt"
    path.write_text(content, encoding="utf-8")
    cfg = compose("prepare", [f"data.corpus_path={path}", *overrides])
    return prepare_corpus(cfg.data)


def doc_stats(**kw) -> DocumentStats:
    base = dict(characters=10, raw_phrases=3, kept_phrases=2, tagged_spans=2, tagged_characters=4)
    return DocumentStats(**{**base, **kw})


def test_pool_sums_counts_and_computes_tagged_fraction():
    pooled = pool_stats([doc_stats(), doc_stats(characters=30, tagged_characters=6)])
    assert {k: pooled[k] for k in ("documents", "characters", "raw_phrases", "kept_phrases", "tagged_spans")} == {
        "documents": 2,
        "characters": 40,
        "raw_phrases": 6,
        "kept_phrases": 4,
        "tagged_spans": 4,
    }
    assert pooled["tagged_characters"] == 10
    assert pooled["tagged_fraction"] == 0.25


def test_pool_of_nothing_has_zero_fraction():
    pooled = pool_stats([])
    assert (pooled["documents"], pooled["characters"], pooled["tagged_fraction"]) == (0, 0, 0.0)
    assert all(pooled["dropped"][r]["count"] == 0 for r in DROP_REASONS)


def test_dropped_counts_per_rule_with_a_few_distinct_examples():
    many = [("too_short", ch) for ch in "的了在是和与及或等其"]
    pooled = pool_stats([doc_stats(dropped=many + [("too_short", "的"), ("duplicate", "服务")])])
    assert pooled["dropped"]["too_short"]["count"] == 11
    assert pooled["dropped"]["too_short"]["examples"] == list("的了在是和与及或等其")[:MAX_EXAMPLES]
    assert pooled["dropped"]["duplicate"] == {"count": 1, "examples": ["服务"]}
    assert pooled["dropped"]["missing"] == {"count": 0, "examples": []}


def test_shadowed_phrases_are_counted_with_examples():
    pooled = pool_stats([doc_stats(shadowed=["服务"]), doc_stats(shadowed=["服务", "物流"])])
    assert pooled["shadowed"] == {"count": 3, "examples": ["服务", "物流"]}


def test_table_has_a_column_per_split_and_a_row_per_count():
    stats = {"all": pool_stats([doc_stats(dropped=[("too_short", "的")], shadowed=["服务"])])}
    stats.update({name: pool_stats([]) for name in SPLITS})
    table = format_stats_table(stats)
    header, *rows = table.splitlines()
    assert header.split() == ["all", *SPLITS]
    labels = [r.split("  ")[0].strip() for r in rows]
    for label in ["documents", "characters", "raw_phrases", "kept_phrases", "tagged_spans", "tagged_fraction"]:
        assert label in labels
    assert all(f"dropped: {r}" in labels for r in DROP_REASONS)
    assert "shadowed (never tagged)" in labels
    assert "e.g. too_short: 的" in table and "e.g. shadowed: 服务" in table


def test_every_rule_is_counted_on_a_real_preparation(tmp_path):
    stats = prepared(tmp_path, RULES_CORPUS, "data.cleaning.stop_phrases=['有关']").stats()["all"]
    dropped = {r: stats["dropped"][r] for r in DROP_REASONS}
    assert dropped == {
        "empty": {"count": 1, "examples": ["、"]},
        "too_short": {"count": 1, "examples": ["的"]},
        "stop_phrase": {"count": 1, "examples": ["有关"]},
        "duplicate": {"count": 1, "examples": ["服务业"]},
        "missing": {"count": 1, "examples": ["港口"]},
    }
    assert stats["shadowed"] == {"count": 1, "examples": ["物流园"]}
    assert (stats["raw_phrases"], stats["kept_phrases"]) == (9, 4)
    # 现代物流园区 (6) + 服务业 (3) + 跨境电商 (4) tagged, of 18 + 6 characters.
    assert (stats["tagged_spans"], stats["tagged_characters"], stats["characters"]) == (3, 13, 24)
    assert stats["tagged_fraction"] == round(13 / 24, 4)


def test_split_stats_add_up_to_the_whole(tmp_path):
    content = "".join(f"第{i}份文件推进服务业发展\n[服务业,的]\n" for i in range(10))
    stats = prepared(tmp_path, content).stats()
    assert set(stats) == {"all", *SPLITS}
    for key in ("documents", "characters", "raw_phrases", "kept_phrases", "tagged_spans", "tagged_characters"):
        assert sum(stats[name][key] for name in SPLITS) == stats["all"][key]
    assert sum(stats[name]["dropped"]["too_short"]["count"] for name in SPLITS) == 10
    assert [stats[name]["documents"] for name in SPLITS] == [8, 1, 1]
