"""Fitting the phrase rescorer (``rescorer.py``): its classifier on the training documents, its
acceptance threshold on the validation split."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.candidates import GROUPS
from keyphrase_tagger.decision.decoder import accepted_decided, decode_phrases
from keyphrase_tagger.decision.phrase_scores import phrase_scores
from keyphrase_tagger.decision.rescorer import Rescorer, sigmoid
from keyphrase_tagger.decision.spans import MAX_CHARS, MAX_WORDS
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.logging_setup import progress
from keyphrase_tagger.records import Document

log = logging.getLogger(__name__)

THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.1 + 0.025 * k, 3) for k in range(25))  # 0.1 .. 0.7


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 30) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (``x`` standardised, column 0 the bias)."""
    w = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = sigmoid(x @ w)
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


def training_matrix(train: Sequence[tuple[Document, np.ndarray, Lexicon]], cleaning: CleaningConfig,
                    candidate_o_scale: float, groups: tuple[str, ...], word_limits: tuple[int, int],
                    show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The candidates of the ``train`` documents (each with its leave-one-out lexicon) as one feature
    matrix over ``groups`` (in :data:`GROUPS` order), word runs within ``word_limits`` (words,
    characters), and their labels (1.0: a listed phrase)."""
    untrained = Rescorer(candidate_o_scale, (), (), (), 0.0, (), (), groups, False, 1, tuple(word_limits))
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
    return x, y


def fit_ensemble(x: np.ndarray, y: np.ndarray, hidden: int, steps: int, members: int,
                 show_progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`fit_mlp` with seeds ``0 .. members - 1``, as one network whose logit is the mean of
    theirs (hidden layers stacked, output weights and biases divided by ``members``): the seeds'
    disagreement averaged out, and the threshold still one bias. One member is ``fit_mlp``'s network."""
    fitted = [fit_mlp(x, y, hidden, steps=steps, seed=seed, show_progress=show_progress) for seed in range(members)]
    if members == 1:
        return fitted[0]
    return (np.concatenate([f[0] for f in fitted]), np.concatenate([f[1] for f in fitted]),
            np.concatenate([f[2] for f in fitted]) / members, sum(f[3] for f in fitted) / members)


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
    ensemble: int = 1,
    word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS),
    show_progress: bool = False,
) -> tuple[Rescorer, float]:
    """Fit on ``train`` (document, model probabilities, the lexicon it may see: leave-one-out),
    choose the threshold by phrase micro F1 on ``validation`` (seen with ``lexicon``); return the
    rescorer (threshold folded in) and its validation F1. ``hidden`` > 0 fits a one-hidden-layer
    network of that width (``steps`` full-batch Adam steps) instead of the logistic regression;
    ``groups``: the feature groups of ``feature_groups.py``. The ``words`` and ``context`` groups need
    lexicons built with word statistics (``build_lexicon(..., with_words=True)``). ``nested``: phrases are every
    occurrence of the accepted strings, not what their tags decode to. ``ensemble``: networks fitted
    with different seeds, their logits averaged; ``word_limits``: the most words and characters of a
    word-run candidate. Each step logs its result; ``show_progress``: progress bars on a terminal."""
    groups = tuple(g for g in GROUPS if g in groups)
    x, y = training_matrix(train, cleaning, candidate_o_scale, groups, tuple(word_limits), show_progress)
    started = time.perf_counter()
    mean, scale = x.mean(axis=0), x.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    if hidden > 0:
        w1, b1, w2, b2 = fit_ensemble(z, y, hidden, steps, ensemble, show_progress=show_progress)
        rescorer = Rescorer(candidate_o_scale, tuple(mean), tuple(scale), tuple(w2), b2,
                            tuple(map(tuple, w1)), tuple(b1), groups, nested, ensemble, tuple(word_limits))
    else:
        rescorer = Rescorer(candidate_o_scale, tuple(mean), tuple(scale), tuple(fit_logistic(z, y, l2=l2)), 0.0,
                            (), (), groups, nested, 1, tuple(word_limits))
    networks = f"{ensemble} networks, each a " if ensemble > 1 else ""
    log.info("rescorer: %s fitted (%.1f s)", f"{networks}hidden layer of {hidden}, {steps} Adam steps"
             if hidden > 0 else "logistic regression", time.perf_counter() - started)
    started = time.perf_counter()
    threshold, f1 = choose_threshold(rescorer, validation, lexicon, cleaning, show_progress)
    log.info("rescorer: threshold %.3f chosen on %d validation documents, phrase F1 %.4f (%.1f s)", threshold,
             len(validation), f1, time.perf_counter() - started)
    return rescorer.with_threshold(threshold), f1


def choose_threshold(rescorer: Rescorer, validation: Sequence[tuple[Document, np.ndarray]], lexicon: Lexicon,
                     cleaning: CleaningConfig, show_progress: bool = False) -> tuple[float, float]:
    """The acceptance threshold of :data:`THRESHOLD_GRID` with the best phrase micro F1 on
    ``validation``, and that F1. Scored on what the extractor will return (the accepted strings' occurrences,
    decoded)."""
    scored = []
    for doc, tag_probs in progress(validation, "rescorer candidates (validation documents)", enabled=show_progress):
        names, x = rescorer.candidates(doc.text, tag_probs, lexicon, cleaning)
        scored.append((doc, dict(zip(names, rescorer.probabilities(x))) if names else {}))
    gold = [d.phrases for d, _ in validation]
    best = (-1.0, 0.5)
    for threshold in progress(THRESHOLD_GRID, "rescorer thresholds", enabled=show_progress):
        predicted = [{p.text for p in decode_phrases(doc.text, accepted_decided(doc.text, {
            n: 1.0 for n, v in scores.items() if v > threshold}, rescorer.nested), cleaning)}
            for doc, scores in scored]
        f1 = phrase_scores(predicted, gold)["micro"]["f1"]
        if f1 > best[0]:
            best = (f1, threshold)
    return best[1], best[0]
