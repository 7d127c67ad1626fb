"""Seeded document-level splits: train/validation/test by ratio, or K-fold cross-validation."""

from __future__ import annotations

import logging

import numpy as np

from keyphrase_tagger.errors import ConfigError

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")


def split_indices(
    n_documents: int,
    seed: int = 42,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    kfold: int | None = None,
    fold: int = 0,
) -> dict[str, list[int]]:
    """Assign each document index to exactly one split.

    With ``kfold=K``, fold ``fold`` of a seeded permutation is the test split and the validation
    split is drawn from the remaining documents in the proportion ``ratios`` gives it.
    """
    if n_documents < 1:
        raise ConfigError("the corpus holds no documents")
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(f"data.split ratios must be non-negative and not all zero, got {ratios}")
    order = np.random.default_rng(seed).permutation(n_documents)
    train_r, val_r, test_r = (r / sum(ratios) for r in ratios)
    if kfold:
        if kfold < 2 or not 0 <= fold < kfold:
            raise ConfigError(f"need kfold >= 2 and 0 <= fold < kfold, got kfold={kfold}, fold={fold}")
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
