"""The rescorer's feature matrix, kept factored: dense columns, and one-hot blocks as category ids.

104 of the 145 columns of the default groups are one-hot parts of speech (four words, 26 tags
each). Written out, they are most of the matrix's memory, and most of the rescorer's standardising
and multiplying; kept as ids, the rescorer adds one precomputed row per block and candidate
(``Rescorer.decide``). :meth:`Features.matrix` writes the full matrix, the one the rescorer is
fitted on (``candidate_features``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneHot:
    """``width`` columns, column ``ids[k]`` set (1.0) for candidate ``k``, the others 0.0."""

    ids: np.ndarray
    width: int


Layout = tuple[tuple[int, ...], tuple[tuple[int, int], ...]]


@dataclass(frozen=True)
class Features:
    """``dense`` holds the columns ``dense_at`` of the full matrix; each of ``one_hot``,
    ``(first column, width, ids)``, a one-hot block; ``width`` columns in all."""

    dense: np.ndarray
    dense_at: tuple[int, ...]
    one_hot: tuple[tuple[int, int, np.ndarray], ...]
    width: int

    @property
    def layout(self) -> Layout:
        """Where the dense columns and the blocks are: the same for every text of a set of groups."""
        return self.dense_at, tuple((first, width) for first, width, _ in self.one_hot)

    def rows(self, start: int, stop: int) -> "Features":
        """Candidates ``start:stop`` only (views of the arrays, no copy)."""
        return Features(self.dense[start:stop], self.dense_at,
                        tuple((first, width, ids[start:stop]) for first, width, ids in self.one_hot), self.width)

    def take(self, index: np.ndarray) -> "Features":
        """Candidates ``index`` only (copies)."""
        return Features(self.dense[index], self.dense_at,
                        tuple((first, width, ids[index]) for first, width, ids in self.one_hot), self.width)

    def matrix(self) -> np.ndarray:
        """The full ``(candidates, width)`` matrix."""
        x = np.zeros((len(self.dense), self.width))
        x[:, list(self.dense_at)] = self.dense
        rows = np.arange(len(self.dense))
        for first, _, ids in self.one_hot:
            x[rows, first + ids] = 1.0
        return x

    @classmethod
    def of(cls, columns: list[np.ndarray | OneHot], n_rows: int) -> "Features":
        """Assemble ``columns`` (in feature-name order; a :class:`OneHot` stands for its ``width``
        columns)."""
        dense_columns = [c for c in columns if not isinstance(c, OneHot)]
        dense = np.empty((n_rows, len(dense_columns)))
        dense_at, one_hot, at = [], [], 0
        for column in columns:
            if isinstance(column, OneHot):
                one_hot.append((at, column.width, column.ids))
                at += column.width
            else:
                dense[:, len(dense_at)] = column
                dense_at.append(at)
                at += 1
        return cls(dense, tuple(dense_at), tuple(one_hot), at)


# Rows per product in stacked_product: 64 rows x 41 dense columns x 64 hidden units is 167,936
# multiply-adds, under the 262,144 (65536 x GEMM_MULTITHREAD_THRESHOLD 4) from which OpenBLAS
# hands a product to its threads.
PRODUCT_ROWS = 64
# Candidates scored at a time (a multiple of PRODUCT_ROWS, so the products are the same): a
# block's hidden layer (1 to 2 MB at 64 units) stays in cache through the passes over it.
BLOCK_ROWS = 64 * PRODUCT_ROWS


def stacked_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``, computed as a stack of products of PRODUCT_ROWS rows of ``a``. One product over
    all of a text's candidates is large enough for BLAS to split it over threads, which on a
    machine whose cores are busy wait for one (and spin after): measured 6x slower over the
    corpus on 2 busy cores than the stack, which BLAS runs on the calling thread."""
    out = np.empty((len(a), b.shape[1]), dtype=np.result_type(a, b))
    full = len(a) - len(a) % PRODUCT_ROWS
    np.matmul(a[:full].reshape(-1, PRODUCT_ROWS, a.shape[1]), b, out=out[:full].reshape(-1, PRODUCT_ROWS, b.shape[1]))
    np.matmul(a[full:], b, out=out[full:])
    return out


class FirstLayer:
    """``((x - mean) / scale) @ weights.T + bias`` for the full matrix ``x`` of :class:`Features`
    of one ``layout``, computed without writing ``x``: the dense columns are multiplied by weights
    that hold their standardisation; the one-hot blocks, two at a time, add the row their pair of
    categories gives (width x width rows of the precomputed sums: half the passes over the output
    of one row per block), the bias folded into the first. Equal to the product over the full
    matrix up to the order of the floating-point sums (~1e-15)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: np.ndarray,
                 layout: Layout) -> None:
        dense_at, blocks = layout
        at = list(dense_at)
        # The standardisation folded into the weights and bias: one pass over the dense columns
        # (the product) rather than three.
        self.weights = weights[:, at].T / scale[at][:, None]
        self.bias = bias = bias - (mean[at] / scale[at]) @ weights[:, at].T
        rows = []  # per block, row c: category c's standardised one-hot row times the weights
        for first, width in blocks:
            block = slice(first, first + width)
            rows.append(((np.eye(width) - mean[block]) / scale[block]) @ weights[:, block].T)
        self.pairs = []  # (rows, width of the second block: 0 for a block alone)
        for a in range(0, len(rows), 2):
            if a + 1 < len(rows):
                summed = rows[a][:, None, :] + rows[a + 1][None, :, :]
                self.pairs.append((summed.reshape(-1, summed.shape[-1]), len(rows[a + 1])))
            else:
                self.pairs.append((rows[a], 0))
        if self.pairs:
            self.pairs[0] = (self.pairs[0][0] + bias, self.pairs[0][1])
            self.bias = None

    def astype(self, dtype: type, scale: float = 1.0) -> "FirstLayer":
        """The same layer with its weights rounded to ``dtype`` (it then computes in ``dtype``),
        times ``scale`` (a power of two, so the product is exact: the layer's output times ``scale``)."""
        layer = copy.copy(self)
        layer.weights = (self.weights * scale).astype(dtype)
        layer.bias = None if self.bias is None else (self.bias * scale).astype(dtype)
        layer.pairs = [((rows * scale).astype(dtype), width) for rows, width in self.pairs]
        return layer

    def __call__(self, features: Features) -> np.ndarray:
        out = stacked_product(features.dense.astype(self.weights.dtype, copy=False), self.weights)
        if self.bias is not None:
            out += self.bias
        blocks = [ids for _, _, ids in features.one_hot]
        for k, (rows, second_width) in enumerate(self.pairs):
            ids = blocks[2 * k] * second_width + blocks[2 * k + 1] if second_width else blocks[2 * k]
            out += rows[ids]
        return out
