"""Document-level splits: seeded train/validation/test by ratio, or K-fold cross-validation."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.splits import SPLITS, split_indices
from keyphrase_tagger.errors import ConfigError


def assert_partition(splits: dict[str, list[int]], n: int) -> None:
    assert set(splits) == set(SPLITS)
    everything = [i for name in SPLITS for i in splits[name]]
    assert sorted(everything) == list(range(n))  # complete, and disjoint since nothing repeats


def test_default_split_of_forty_documents_is_80_10_10():
    splits = split_indices(40)
    assert_partition(splits, 40)
    assert [len(splits[name]) for name in SPLITS] == [32, 4, 4]


def test_same_seed_gives_same_split():
    assert split_indices(40, seed=7) == split_indices(40, seed=7)


def test_seed_changes_which_documents_go_where():
    assert split_indices(40, seed=1)["test"] != split_indices(40, seed=2)["test"]


def test_ratios_need_not_sum_to_one():
    splits = split_indices(40, ratios=(8, 1, 1))
    assert splits == split_indices(40, ratios=(0.8, 0.1, 0.1))


def test_kfold_test_folds_partition_the_corpus():
    folds = [split_indices(40, kfold=5, fold=i) for i in range(5)]
    tests = [i for f in folds for i in f["test"]]
    assert sorted(tests) == list(range(40))
    for f in folds:
        assert_partition(f, 40)
        assert len(f["test"]) == 8
        assert len(f["validation"]) == 4  # a ninth of the 36 left, as 10/(80+10) says


def test_kfold_is_seeded():
    assert split_indices(40, seed=3, kfold=4, fold=2) == split_indices(40, seed=3, kfold=4, fold=2)


@pytest.mark.parametrize("kfold,fold", [(1, 0), (0, 0), (5, 5), (5, -1), (2.5, 0), (True, 0), ("5", 0)])
def test_impossible_fold_is_a_config_error(kfold, fold):
    with pytest.raises(ConfigError, match="kfold"):
        split_indices(40, kfold=kfold, fold=fold)


def test_fold_without_kfold_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.split\.fold=2 needs data\.split\.kfold"):
        split_indices(40, fold=2)


def test_null_fold_means_the_first():
    assert split_indices(40, kfold=4, fold=None) == split_indices(40, kfold=4, fold=0)


@pytest.mark.parametrize("ratios", [(1.0, -0.1, 0.1), (0, 0, 0), (1, 1), (1, 1, 1, 1), 0.8, "811", (1, "a", 1),
                                    (1, float("nan"), 1), (1, float("inf"), 1), (True, False, False)])
def test_ratios_other_than_three_non_negative_numbers_are_config_errors(ratios):
    with pytest.raises(ConfigError, match=r"^data\.split\.ratios must be three non-negative numbers"):
        split_indices(10, ratios=ratios)


def test_empty_corpus_is_a_config_error():
    with pytest.raises(ConfigError):
        split_indices(0)


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_corpora_split_with_a_warning_for_each_empty_split(n, caplog):
    with caplog.at_level(logging.WARNING, logger="keyphrase_tagger.data.splits"):
        splits = split_indices(n)
    assert_partition(splits, n)
    empty = [name for name in SPLITS if not splits[name]]
    assert empty
    assert all(any(repr(name) in r.getMessage() for r in caplog.records) for name in empty)


def test_more_folds_than_documents_is_a_config_error_naming_both():
    with pytest.raises(ConfigError, match=r"^data\.split\.kfold=5 exceeds the 3 documents of the corpus"):
        split_indices(3, kfold=5, fold=4)


def test_as_many_folds_as_documents_gives_one_test_document_each():
    assert sorted(split_indices(3, kfold=3, fold=i)["test"] for i in range(3)) == [[0], [1], [2]]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
    ratios=st.tuples(*[st.floats(0, 1)] * 3).filter(lambda r: sum(r) > 0.01),
    kfold=st.one_of(st.none(), st.integers(2, 10)),
    data=st.data(),
)
def test_any_split_is_disjoint_and_complete(n, seed, ratios, kfold, data):
    kfold = min(kfold, n) if kfold and n >= 2 else None  # more folds than documents is refused (above)
    fold = data.draw(st.integers(0, kfold - 1)) if kfold else 0
    assert_partition(split_indices(n, seed=seed, ratios=ratios, kfold=kfold, fold=fold), n)
