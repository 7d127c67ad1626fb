"""Phrase-level rescoring: a classifier over candidate phrases, saved with the checkpoint.

The tagger decides character by character; whether a document *lists* a phrase depends on things
only visible at phrase level: whether it is a run of whole words and which ones (the training lists
start phrases at some words and end them at others), how often it recurs in this document, how
often the training documents listed it where it occurred (the lexicon rate), how confident the
tagger was over its occurrences. So the last decoding stage:

1. candidates and their features come from ``candidates.py`` (word runs, tagger spans, lexicon
   matches; the feature groups in use are saved with the model);
2. each distinct candidate string gets a probability from a one-hidden-layer network (or a logistic
   regression, ``hidden: 0``), whose output bias already holds the decision threshold chosen on
   validation (accepted iff > 0.5);
3. the decoder gets a :class:`~keyphrase_tagger.decoding.Prediction`: tag probabilities in which
   every occurrence of an accepted string (matched leftmost-longest, :class:`PhraseMatcher`) has
   ``B``/``I`` with that probability, everything else ``O`` (what the entity scores count), and,
   with ``nested`` (the default config), the accepted strings themselves, so that
   :func:`keyphrase_tagger.decoding.decode_phrases` returns every occurrence of each, nested ones
   included. Without ``nested`` the phrases are decoded from the tags, and an accepted string
   found only inside longer accepted ones is lost. The phrase score is the classifier's
   probability.

Fitted on the training documents with a leave-one-out lexicon (their own lists and word counts
subtracted, as for the lexicon input features) and the model's probabilities under leave-one-out
input features; the threshold on the validation split.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.candidates import GROUPS, candidate_features, feature_names
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import PhraseMatcher
from keyphrase_tagger.decoding import Prediction, decode_phrases
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon import Lexicon
from keyphrase_tagger.logging_setup import progress
from keyphrase_tagger.phrase_scores import phrase_scores
from keyphrase_tagger.records import O, Document

log = logging.getLogger(__name__)

THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.1 + 0.025 * k, 3) for k in range(25))  # 0.1 .. 0.7


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 30) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (``x`` standardised, column 0 the bias)."""
    w = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, x.T @ (p - y) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit_mlp(x: np.ndarray, y: np.ndarray, hidden: int, steps: int, weight_decay: float = 1e-3,
            seed: int = 0, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One tanh hidden layer, full-batch Adam on the log loss (``x`` standardised): the feature
    interactions a linear model cannot weigh (e.g. recurrence matters more for unlisted phrases).
    Returns ``(hidden_weights (hidden, F), hidden_bias, output_weights, output_bias)``; ``show_progress``:
    a bar over the steps on a terminal."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    first, second = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, 1)
    with torch.no_grad():  # seeded initialisation: the same data gives the same rescorer
        for layer in (first, second):
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator) * 2 * bound - bound)
            layer.bias.zero_()
    params = [*first.parameters(), *second.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.01, weight_decay=weight_decay)
    inputs = torch.tensor(x, dtype=torch.float32)
    targets = torch.tensor(y, dtype=torch.float32)
    for _ in progress(range(steps), "rescorer Adam steps", enabled=show_progress):
        optimizer.zero_grad()
        logits = second(torch.tanh(first(inputs))).squeeze(-1)
        torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).backward()
        optimizer.step()
    return (first.weight.detach().double().numpy(), first.bias.detach().double().numpy(),
            second.weight.detach().double().numpy()[0], float(second.bias.item()))


@dataclass(frozen=True)
class Rescorer:
    """The fitted model as the checkpoint stores it (``decoding.rescore``).

    ``logit = output . h + output_bias`` with ``h = tanh(hidden @ z + hidden_bias)`` for a
    hidden layer, ``h = z`` for the logistic regression (``hidden`` empty), ``z`` the standardised
    features of ``groups`` (``candidates.py``); ``output_bias`` includes ``-logit(threshold)``, so a
    candidate is accepted iff its probability exceeds 0.5.
    """

    candidate_o_scale: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    output: tuple[float, ...]
    output_bias: float = 0.0
    hidden: tuple[tuple[float, ...], ...] = ()
    hidden_bias: tuple[float, ...] = ()
    groups: tuple[str, ...] = GROUPS
    nested: bool = False

    @classmethod
    def from_dict(cls, cfg: Mapping) -> "Rescorer":
        groups = tuple(cfg.get("groups", ()))
        # Weights are meaningful only over the features they were fitted on, in that order.
        try:
            expected = list(feature_names(groups))
        except ValueError as err:
            raise CheckpointError(f"decoding.rescore: {err}") from None
        if list(cfg.get("features", ())) != expected:
            raise CheckpointError(f"decoding.rescore was fitted on features {cfg.get('features')}, "
                                  f"this version computes {expected}: retrain or retune the checkpoint")
        return cls(float(cfg["candidate_o_scale"]), tuple(map(float, cfg["mean"])), tuple(map(float, cfg["scale"])),
                   tuple(map(float, cfg["output"])), float(cfg.get("output_bias", 0.0)),
                   tuple(tuple(map(float, row)) for row in cfg.get("hidden", ())),
                   tuple(map(float, cfg.get("hidden_bias", ()))), groups, bool(cfg.get("nested", False)))

    def to_dict(self) -> dict:
        return {"candidate_o_scale": self.candidate_o_scale, "groups": list(self.groups),
                "features": list(feature_names(self.groups)), "mean": list(self.mean), "scale": list(self.scale),
                "output": list(self.output), "output_bias": self.output_bias,
                "hidden": [list(row) for row in self.hidden], "hidden_bias": list(self.hidden_bias),
                "nested": self.nested}

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        h = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        if self.hidden:
            h = np.tanh(h @ np.asarray(self.hidden).T + np.asarray(self.hidden_bias))
        return 1.0 / (1.0 + np.exp(-(h @ np.asarray(self.output) + self.output_bias)))

    def with_threshold(self, threshold: float) -> "Rescorer":
        """The same model with acceptance at ``threshold`` moved to 0.5."""
        return dataclasses.replace(self, output_bias=self.output_bias - math.log(threshold / (1.0 - threshold)))

    def candidates(self, text: str, probs: np.ndarray, lexicon: Lexicon,
                   cleaning: CleaningConfig) -> tuple[list[str], np.ndarray]:
        """Candidate strings of ``text`` and their features, as this rescorer was fitted on them."""
        return candidate_features(text, probs, lexicon, cleaning, self.candidate_o_scale, self.groups)

    def accepted(self, text: str, probs: np.ndarray, lexicon: Lexicon, cleaning: CleaningConfig) -> dict[str, float]:
        """Accepted candidate strings of ``text`` and their probabilities (all > 0.5)."""
        names, x = self.candidates(text, probs, lexicon, cleaning)
        if not names:
            return {}
        p = self.probabilities(x)
        return {name: float(v) for name, v in zip(names, p) if v > 0.5}

    def decide(self, text: str, probs: np.ndarray, lexicon: Lexicon, cleaning: CleaningConfig) -> Prediction:
        """What the decoder reads for ``text``: see :meth:`prediction`."""
        return self.prediction(text, self.accepted(text, probs, lexicon, cleaning))

    def prediction(self, text: str, accepted: Mapping[str, float]) -> Prediction:
        """The accepted strings tagged leftmost-longest, and themselves where phrases may nest."""
        return Prediction(tag_accepted(text, accepted), dict(accepted) if self.nested else None)


def tag_accepted(text: str, accepted: Mapping[str, float]) -> np.ndarray:
    """Tag probabilities marking every leftmost-longest occurrence of the ``accepted`` strings with
    ``B``/``I`` at the string's probability; everything else ``O``."""
    out = np.zeros((len(text), 3), dtype=np.float64)
    out[:, O] = 1.0
    if accepted:
        matcher = PhraseMatcher(sorted(accepted))
        for i, start, end in matcher.find(text):
            p = accepted[matcher.phrases[i]]
            out[start:end] = (1.0 - p, 0.0, p)
            out[start] = (1.0 - p, p, 0.0)
    return out


def fit_rescorer(
    train: Sequence[tuple[Document, np.ndarray, Lexicon]],
    validation: Sequence[tuple[Document, np.ndarray]],
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    candidate_o_scale: float,
    hidden: int,
    *,
    groups: Sequence[str],
    steps: int,
    nested: bool,
    l2: float = 1.0,
    show_progress: bool = False,
) -> tuple[Rescorer, float]:
    """Fit on ``train`` (document, model probabilities, the lexicon it may see: leave-one-out),
    choose the threshold by phrase micro F1 on ``validation`` (seen with ``lexicon``); return the
    rescorer (threshold folded in) and its validation F1. ``hidden`` > 0 fits a one-hidden-layer
    network of that width (``steps`` full-batch Adam steps) instead of the logistic regression;
    ``groups``: the feature groups of ``candidates.py``. The ``words`` and ``context`` groups need
    lexicons built with word statistics (``build_lexicon(..., with_words=True)``). ``nested``: phrases are every
    occurrence of the accepted strings, not what their tags decode to. Each step logs its result;
    ``show_progress``: progress bars on a terminal."""
    groups = tuple(g for g in GROUPS if g in groups)
    untrained = Rescorer(candidate_o_scale, (), (), (), groups=groups, nested=nested)
    started = time.perf_counter()
    xs, ys = [], []
    for doc, probs, lex in progress(train, "rescorer candidates (training documents)", enabled=show_progress):
        names, x = untrained.candidates(doc.text, probs, lex, cleaning)
        gold = set(doc.phrases)
        xs.append(x)
        ys.append(np.array([float(n in gold) for n in names]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    log.info("rescorer: %d candidates of %d training documents (%d listed), %d features (%.1f s)", len(y), len(train),
             int(y.sum()), x.shape[1], time.perf_counter() - started)
    started = time.perf_counter()
    mean, scale = x.mean(axis=0), x.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    if hidden > 0:
        w1, b1, w2, b2 = fit_mlp(z, y, hidden, steps=steps, show_progress=show_progress)
        rescorer = Rescorer(candidate_o_scale, tuple(mean), tuple(scale), tuple(w2), b2,
                            tuple(map(tuple, w1)), tuple(b1), groups, nested)
    else:
        rescorer = Rescorer(candidate_o_scale, tuple(mean), tuple(scale), tuple(fit_logistic(z, y, l2=l2)),
                            groups=groups, nested=nested)
    log.info("rescorer: %s fitted (%.1f s)", f"hidden layer of {hidden}, {steps} Adam steps" if hidden > 0
             else "logistic regression", time.perf_counter() - started)
    started = time.perf_counter()
    threshold, f1 = choose_threshold(rescorer, validation, lexicon, cleaning, show_progress)
    log.info("rescorer: threshold %.3f chosen on %d validation documents, phrase F1 %.4f (%.1f s)", threshold,
             len(validation), f1, time.perf_counter() - started)
    return rescorer.with_threshold(threshold), f1


def choose_threshold(rescorer: Rescorer, validation: Sequence[tuple[Document, np.ndarray]], lexicon: Lexicon,
                     cleaning: CleaningConfig, show_progress: bool = False) -> tuple[float, float]:
    """The acceptance threshold of :data:`THRESHOLD_GRID` with the best phrase micro F1 on
    ``validation``, and that F1. Scored on what the extractor will return (:meth:`Rescorer.prediction`,
    decoded)."""
    scored = []
    for doc, tag_probs in progress(validation, "rescorer candidates (validation documents)", enabled=show_progress):
        names, x = rescorer.candidates(doc.text, tag_probs, lexicon, cleaning)
        scored.append((doc, dict(zip(names, rescorer.probabilities(x))) if names else {}))
    gold = [d.phrases for d, _ in validation]
    best = (-1.0, 0.5)
    for threshold in progress(THRESHOLD_GRID, "rescorer thresholds", enabled=show_progress):
        # Accepted strings tagged at probability 1: below 0.5 they would decode as O.
        predicted = [{p.text for p in decode_phrases(doc.text, rescorer.prediction(doc.text, {
            n: 1.0 for n, v in scores.items() if v > threshold}), cleaning)} for doc, scores in scored]
        f1 = phrase_scores(predicted, gold)["micro"]["f1"]
        if f1 > best[0]:
            best = (f1, threshold)
    return best[1], best[0]
