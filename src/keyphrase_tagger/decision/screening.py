"""Which candidates the phrase rescorer could accept, found in float32 with a bound on its error.

Of a text's candidates only a few are accepted (7 % of the embedded corpus's, under the default
rescorer), and only the accepted ones' probabilities leave the decision. So the hidden layer runs
over all of them in float32 (above all its ``tanh``, several times faster than in float64), and
again in float64, exactly as :meth:`Rescorer.factored_probabilities
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
# What the bound allows numpy's float32 tanh: 4 units in the last place (a unit is at most 2**-24
# below 1 in magnitude); tests check the bound as a whole against float64.
_TANH_ERROR = 4 * _U32


def _gamma(n: int) -> float:
    """Higham's gamma_n: the relative error bound of a sum of ``n`` rounded products."""
    return n * _U32 / (1 - n * _U32)


class Screen:
    """The logits of a one-hidden-layer rescorer, ``output . tanh(layer(x))`` in float32, each
    with a bound on its distance from the float64 value."""

    def __init__(self, layer: FirstLayer, output: np.ndarray) -> None:
        self.layer, self.output = layer.astype(np.float32), output.astype(np.float32)
        n = len(layer.weights) + len(layer.pairs) + 4  # terms of a hidden unit, with the roundings of its inputs
        # |error of hidden unit j| <= gamma_n * (sum_i max|x_i| |w_ij| + |bias_j| + its largest one-hot rows),
        # the max over a block of candidates; weighted by |output_j| and summed over j:
        w = np.abs(output)
        fixed = sum((np.abs(rows).max(axis=0) for rows, _ in layer.pairs), np.zeros(len(w)))
        if layer.bias is not None:
            fixed += np.abs(layer.bias)
        self.per_x = 2 * _gamma(n) * (np.abs(layer.weights) @ w)
        self.fixed = 2 * (_gamma(n) * float(w @ fixed) + (_TANH_ERROR + _gamma(len(w) + 1)) * float(w.sum()))

    def logits(self, features: Features) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate, the float32 logit (as float64, before the output bias) and twice the bound
        on its distance from the float64 one (the same for a block of candidates)."""
        logit, bound = np.empty(len(features.dense)), np.empty(len(features.dense))
        for start in range(0, len(logit), BLOCK_ROWS):
            block = features.rows(start, start + BLOCK_ROWS)
            z = self.layer(block)
            logit[start : start + len(z)] = np.einsum("ij,j->i", np.tanh(z, out=z), self.output)
            bound[start : start + len(z)] = column_magnitudes(block.dense) @ self.per_x + self.fixed
        return logit, bound


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
