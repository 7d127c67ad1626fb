"""Which candidates the phrase rescorer could accept, found in float32 with a bound on its error.

Of a text's candidates only a few are accepted (7 % of the embedded corpus's, under the default
rescorer), and only the accepted ones' probabilities leave the decision. So the hidden layer runs
over all of them in float32, its ``tanh(z)`` as ``2 * sigmoid(2 * z) - 1`` by torch's vectorised
float32 sigmoid (faster than numpy's float32 ``tanh``, itself several times faster than float64:
docs/performance.md), and again in float64, exactly as :meth:`Rescorer.factored_probabilities
<keyphrase_tagger.decision.rescorer.Rescorer.factored_probabilities>`, only for the candidates whose
float32 logit is within :meth:`Screen.logits`' error bound of acceptance or above it. The accepted
candidates and their probabilities are then the float64 ones: the bound is the standard one on the
rounding of sums of products (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1), from
each feature column's largest magnitude in a block of candidates, doubled.
"""

from __future__ import annotations

import numpy as np

from keyphrase_tagger.decision.features import BLOCK_ROWS, Features, FirstLayer

_U32 = float(np.finfo(np.float32).eps) / 2  # the unit roundoff of float32
# What the bound allows torch's float32 sigmoid, 1 / (1 + exp(-x)) with an exp within 1 ulp: its
# relative error is at most about 4 units, so its absolute error too (it is below 1); twice that.
# Tests check it against float64, and the bound as a whole.
SIGMOID_ERROR = 8 * _U32
# Elements per sigmoid call: torch runs a call under its grain size (32,768) on the calling thread,
# as the rest of the decision runs, rather than waking its threads for it.
SIGMOID_ELEMENTS = 16384


def _gamma(n: int) -> float:
    """Higham's gamma_n: the relative error bound of a sum of ``n`` rounded products."""
    return n * _U32 / (1 - n * _U32)


class Screen:
    """The logits of a one-hidden-layer rescorer, ``output . tanh(layer(x))`` in float32, each
    with a bound on its distance from the float64 value.

    ``tanh(z) = 2 sigmoid(2z) - 1``, so a logit is ``2 output . sigmoid(2 layer(x)) - sum(output)``:
    the layer's weights are doubled (exactly: a power of two) and the sum is taken once."""

    def __init__(self, layer: FirstLayer, output: np.ndarray) -> None:
        self.layer = layer.astype(np.float32, scale=2.0)
        self.output, self.output_sum = (2 * output).astype(np.float32), float(output.sum())
        n = len(layer.weights) + len(layer.pairs) + 4  # terms of a hidden unit, with the roundings of its inputs
        # |error of hidden unit j| <= gamma_n * (sum_i max|x_i| |w_ij| + |bias_j| + its largest one-hot rows),
        # the max over a block of candidates; 2 sigmoid(2z) moves by at most as much as z (its slope
        # is at most 1), so it is weighted by |output_j| and summed over j. Then the sigmoid's own
        # error and the rounding of the output's products (values of at most 2 |output_j|), doubled:
        w = np.abs(output)
        fixed = sum((np.abs(rows).max(axis=0) for rows, _ in layer.pairs), np.zeros(len(w)))
        if layer.bias is not None:
            fixed += np.abs(layer.bias)
        self.per_x = 2 * _gamma(n) * (np.abs(layer.weights) @ w)
        self.fixed = 2 * (_gamma(n) * float(w @ fixed) + 2 * (SIGMOID_ERROR + _gamma(len(w) + 1)) * float(w.sum()))

    def logits(self, features: Features) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate, the float32 logit (as float64, before the output bias) and twice the bound
        on its distance from the float64 one (the same for a block of candidates)."""
        logit, bound = np.empty(len(features.dense)), np.empty(len(features.dense))
        for start in range(0, len(logit), BLOCK_ROWS):
            block = features.rows(start, start + BLOCK_ROWS)
            z = self.layer(block)
            logit[start : start + len(z)] = np.einsum("ij,j->i", sigmoid_in_place(z), self.output)
            bound[start : start + len(z)] = column_magnitudes(block.dense) @ self.per_x + self.fixed
        logit -= self.output_sum
        return logit, bound


def sigmoid_in_place(z: np.ndarray) -> np.ndarray:
    """``z`` (a C-contiguous 2-d float32 array) overwritten by its logistic sigmoid, on this thread."""
    import torch  # imported here: the rest of the decision is numpy

    rows = max(1, SIGMOID_ELEMENTS // max(z.shape[1], 1))
    values = torch.from_numpy(z)
    for start in range(0, len(z), rows):
        part = values[start : start + rows]
        torch.sigmoid(part, out=part)
    return z


def column_magnitudes(x: np.ndarray) -> np.ndarray:
    """``np.abs(x).max(axis=0)`` of a 2-d ``x``, by halving its rows (elementwise maxima of whole
    rows, where numpy's reduction along the first axis goes a column at a time)."""
    x = np.abs(x)
    while len(x) > 1:
        half = len(x) // 2
        top = np.maximum(x[:half], x[half : 2 * half])
        if len(x) % 2:
            np.maximum(top[0], x[-1], out=top[0])
        x = top
    return x[0] if len(x) else np.zeros(x.shape[1])
