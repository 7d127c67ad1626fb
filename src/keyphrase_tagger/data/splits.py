"""Seeded document-level splits: train/validation/test by ratio, or K-fold cross-validation."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np

from keyphrase_tagger.errors import ConfigError

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")
DEFAULT_SEED = 42
DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def check_ratios(ratios: object) -> tuple[float, float, float]:
    """``data.split.ratios`` as three floats: ConfigError unless it is three non-negative numbers
    (train, validation, test) with a positive sum."""
    numbers = list(ratios) if isinstance(ratios, Sequence) and not isinstance(ratios, str) else None
    if (numbers is None or len(numbers) != 3
            or not all(isinstance(r, Real) and not isinstance(r, bool) and math.isfinite(r) and r >= 0 for r in numbers)
            or sum(numbers) <= 0):
        shown = ratios if numbers is None else numbers
        raise ConfigError(f"data.split.ratios must be three non-negative numbers (train, validation, test) "
                          f"with a positive sum, got {shown!r}")
    return tuple(float(r) for r in numbers)  # type: ignore[return-value]


def check_folds(kfold: object, fold: object, n_documents: int | None = None) -> tuple[int | None, int]:
    """``(kfold, fold)`` checked: ``kfold`` null or an integer from 2 to the number of documents (when
    given), ``fold`` an integer in ``0 .. kfold-1`` (0 without ``kfold``). ConfigError otherwise."""
    fold = 0 if fold is None else fold
    if not isinstance(fold, int) or isinstance(fold, bool):
        raise ConfigError(f"data.split.fold must be an integer, got {fold!r}")
    if kfold is None:
        if fold != 0:
            raise ConfigError(f"data.split.fold={fold} needs data.split.kfold (null: no cross-validation)")
        return None, 0
    if not isinstance(kfold, int) or isinstance(kfold, bool) or kfold < 2:
        raise ConfigError(f"data.split.kfold must be null or an integer >= 2, got {kfold!r}")
    if n_documents is not None and kfold > n_documents:
        raise ConfigError(f"data.split.kfold={kfold} exceeds the {n_documents} documents of the corpus: "
                          "every fold needs a test document")
    if not 0 <= fold < kfold:
        raise ConfigError(f"data.split.fold={fold} must be in 0..{kfold - 1} for data.split.kfold={kfold}")
    return kfold, fold


def split_settings(split_cfg: Mapping | None) -> dict:
    """``data.split`` with its defaults filled in and its values checked: ``seed``, ``ratios``,
    ``kfold``, ``fold`` — the keyword arguments of :func:`split_indices`."""
    split_cfg = split_cfg or {}
    kfold, fold = check_folds(split_cfg.get("kfold"), split_cfg.get("fold", 0))
    return {"seed": int(split_cfg.get("seed", DEFAULT_SEED)),
            "ratios": check_ratios(split_cfg.get("ratios", DEFAULT_RATIOS)), "kfold": kfold, "fold": fold}


def split_indices(
    n_documents: int,
    seed: int = DEFAULT_SEED,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    kfold: int | None = None,
    fold: int = 0,
) -> dict[str, list[int]]:
    """Assign each document index to exactly one split.

    With ``kfold=K``, fold ``fold`` of a seeded permutation is the test split and the validation
    split is drawn from the remaining documents in the proportion ``ratios`` gives it.
    """
    if n_documents < 1:
        raise ConfigError("the corpus holds no documents")
    checked = check_ratios(ratios)
    train_r, val_r, test_r = (r / sum(checked) for r in checked)
    kfold, fold = check_folds(kfold, fold, n_documents)
    order = np.random.default_rng(seed).permutation(n_documents)
    if kfold:
        folds = np.array_split(order, kfold)
        test = folds[fold]
        rest = np.concatenate([f for i, f in enumerate(folds) if i != fold])
        n_val = int(round(len(rest) * val_r / max(train_r + val_r, 1e-12)))
        val, train = rest[:n_val], rest[n_val:]
    else:
        n_test = int(round(n_documents * test_r))
        n_val = int(round(n_documents * val_r))
        test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    splits = {"train": sorted(map(int, train)), "validation": sorted(map(int, val)), "test": sorted(map(int, test))}
    for name, idx in splits.items():
        if not idx:
            log.warning("split %r is empty (%d documents in the corpus)", name, n_documents)
    return splits
