"""Phrase-level rescoring: a classifier over candidate phrases, the default decision kind.

The tagger decides character by character; whether a document *lists* a phrase depends on things
only visible at phrase level: whether it is a run of whole words and which ones (the training lists
start phrases at some words and end them at others), how often it recurs in this document, how
often the training documents listed it where it occurred (the lexicon rate), how confident the
tagger was over its occurrences. So this decision:

1. takes candidates and their features from ``candidates.py`` (word runs, tagger spans, lexicon
   matches; the feature groups in use are saved with the model);
2. gives each distinct candidate string a probability from a one-hidden-layer network (or a
   logistic regression, ``hidden`` empty), whose output bias already holds the decision threshold
   chosen on validation (accepted iff > 0.5); the decision computes it in float32 first and in
   float64 only where a candidate could be accepted (``screening.py``);
3. returns the accepted strings' occurrences (:func:`~keyphrase_tagger.decision.decoder.accepted_decided`,
   read off the candidates' occurrences by :func:`~keyphrase_tagger.decision.decoder.occurrences_decided`):
   with ``nested`` (the default config) every occurrence of each, phrases inside others included;
   otherwise the leftmost-longest ones only, so a string found only inside longer accepted ones is
   lost. A phrase's score is its string's probability.

Fitted (``rescorer_fit.py``) on the training documents with a leave-one-out lexicon (their own lists
and word counts subtracted, as for the lexicon input features) and the model's probabilities under
leave-one-out input features; the threshold on the validation split.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.decision.candidates import candidate_features, described_candidates, feature_names
from keyphrase_tagger.decision.decoder import Decided, occurrences_decided
from keyphrase_tagger.decision.features import BLOCK_ROWS, Features, FirstLayer, Layout
from keyphrase_tagger.decision.screening import Screen
from keyphrase_tagger.decision.spans import MAX_CHARS, MAX_WORDS, no_spans
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon.lexicon import Lexicon


def saved_groups(cfg: Mapping) -> tuple[str, ...]:
    """The feature groups of a saved rescorer; :class:`CheckpointError` unless its ``features`` are
    the ones this version computes for them."""
    groups = tuple(cfg["groups"])
    # Weights are meaningful only over the features they were fitted on, in that order.
    try:
        expected = list(feature_names(groups))
    except ValueError as err:
        raise CheckpointError(f"decision (rescorer): {err}") from None
    if list(cfg["features"]) != expected:
        raise CheckpointError(f"decision (rescorer) was fitted on features {cfg['features']}, "
                              f"this version computes {expected}: retrain the checkpoint or refit its decision")
    return groups


def saved_word_limits(cfg: Mapping) -> tuple[int, int]:
    """The word-run limits ``(max_words, max_chars)`` of a saved rescorer; one saved without them
    read runs of MAX_WORDS words and MAX_CHARS characters. :class:`CheckpointError` below 1."""
    limits = (int(cfg.get("max_words", MAX_WORDS)), int(cfg.get("max_chars", MAX_CHARS)))
    if min(limits) < 1:
        raise CheckpointError(f"decision (rescorer): max_words={limits[0]}, max_chars={limits[1]} (damaged settings)")
    return limits


def sigmoid(logit: np.ndarray) -> np.ndarray:
    """The logistic function: a logit's probability."""
    return 1.0 / (1.0 + np.exp(-logit))


@dataclass(frozen=True)
class Rescorer:
    """The fitted classifier, as the checkpoint stores it (under ``decision``, kind ``rescorer``).

    ``logit = output . h + output_bias`` with ``h = tanh(hidden @ z + hidden_bias)`` for a
    hidden layer, ``h = z`` for the logistic regression (``hidden`` empty), ``z`` the standardised
    features of ``groups`` (``feature_groups.py``); ``output_bias`` includes ``-logit(threshold)``, so a
    candidate is accepted iff its probability exceeds 0.5. An ensemble of ``members`` networks is
    stored as one: their hidden layers stacked, their output weights and biases averaged (the mean
    of their logits). ``word_limits``: the most words and characters of a word-run candidate.
    """

    candidate_o_scale: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    output: tuple[float, ...]
    output_bias: float
    hidden: tuple[tuple[float, ...], ...]  # empty: a logistic regression
    hidden_bias: tuple[float, ...]
    groups: tuple[str, ...]
    nested: bool
    members: int = 1
    word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS)

    @classmethod
    def from_dict(cls, cfg: Mapping) -> "Rescorer":
        """The rescorer :meth:`to_dict` saved; :class:`CheckpointError` if its features are not the
        ones this version computes or its weights do not fit them, ``KeyError`` for a missing key
        (``members``, ``max_words`` and
        ``max_chars`` excepted: rescorers saved before them lack them)."""
        groups = saved_groups(cfg)
        members, limits = int(cfg.get("members", 1)), saved_word_limits(cfg)  # saved without members: one network
        if members < 1 or len(cfg["hidden"]) % members:
            raise CheckpointError(f"decision (rescorer): members={members} for {len(cfg['hidden'])} hidden units "
                                  "(damaged settings)")
        rescorer = cls(float(cfg["candidate_o_scale"]), tuple(map(float, cfg["mean"])),
                       tuple(map(float, cfg["scale"])), tuple(map(float, cfg["output"])), float(cfg["output_bias"]),
                       tuple(tuple(map(float, row)) for row in cfg["hidden"]),
                       tuple(map(float, cfg["hidden_bias"])), groups, bool(cfg["nested"]), members, limits)
        n = len(feature_names(groups))
        width = len(rescorer.hidden) or n
        if not (len(rescorer.mean) == len(rescorer.scale) == n and len(rescorer.output) == width
                and len(rescorer.hidden_bias) == len(rescorer.hidden) and all(len(r) == n for r in rescorer.hidden)):
            raise CheckpointError(f"decision (rescorer): the weights do not fit its {n} features (damaged settings)")
        return rescorer

    def to_dict(self) -> dict:
        return {"candidate_o_scale": self.candidate_o_scale, "groups": list(self.groups),
                "features": list(feature_names(self.groups)), "mean": list(self.mean), "scale": list(self.scale),
                "output": list(self.output), "output_bias": self.output_bias,
                "hidden": [list(row) for row in self.hidden], "hidden_bias": list(self.hidden_bias),
                "nested": self.nested, "members": self.members, "max_words": self.word_limits[0],
                "max_chars": self.word_limits[1]}

    @functools.cached_property
    def _weights(self) -> tuple[np.ndarray, ...]:
        """The weights as arrays, converted once per rescorer rather than once per text."""
        return tuple(np.asarray(w) for w in (self.mean, self.scale, self.hidden, self.hidden_bias, self.output))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Each candidate's probability: all candidates of a text at once, one matmul per layer."""
        mean, scale, hidden, hidden_bias, output = self._weights
        h = (x - mean) / scale
        if self.hidden:
            h = np.tanh(h @ hidden.T + hidden_bias)
        return sigmoid(h @ output + self.output_bias)

    @functools.cached_property
    def _first_layers(self) -> dict[Layout, tuple[FirstLayer, Screen | None]]:
        return {}

    def _layers(self, layout: Layout) -> tuple[FirstLayer, Screen | None]:
        """The first layer of ``layout`` (built once per rescorer: the layout is that of its groups),
        and its float32 screen where there is a hidden layer."""
        layers = self._first_layers.get(layout)
        if layers is None:
            mean, scale, hidden, hidden_bias, output = self._weights
            weights, bias = (hidden, hidden_bias) if self.hidden else (output[None, :], np.zeros(1))
            layer = FirstLayer(mean, scale, weights, bias, layout)
            layers = self._first_layers[layout] = (layer, Screen(layer, output) if self.hidden else None)
        return layers

    def _logits(self, layer: FirstLayer, features: Features) -> np.ndarray:
        """The logits before the output bias, :data:`~keyphrase_tagger.decision.features.BLOCK_ROWS`
        candidates at a time."""
        output = self._weights[4]
        logit = np.empty(len(features.dense))
        for start in range(0, len(logit), BLOCK_ROWS):
            z = layer(features.rows(start, start + BLOCK_ROWS))
            # einsum, not ``@ output``: a matrix-vector product hands a few hundred microseconds
            # of work to BLAS threads, which on a busy machine wait for a core.
            logit[start : start + len(z)] = np.einsum("ij,j->i", np.tanh(z, out=z), output) if self.hidden else z[:, 0]
        return logit

    def factored_probabilities(self, features: Features) -> np.ndarray:
        """:meth:`probabilities` of ``features.matrix()``, without writing the matrix (``features.py``)."""
        return sigmoid(self._logits(self._layers(features.layout)[0], features) + self.output_bias)

    def screened_probabilities(self, features: Features) -> np.ndarray:
        """:meth:`factored_probabilities` for every candidate it could accept (``screening.py``); the
        others' are float32 estimates, all below 0.5 as theirs are."""
        layer, screen = self._layers(features.layout)
        if screen is None:  # a logistic regression: its one product is cheap
            return self.factored_probabilities(features)
        logit, bound = screen.logits(features)
        logit += self.output_bias
        near = np.flatnonzero(logit > -bound)
        logit[near] = self._logits(layer, features.take(near)) + self.output_bias
        return sigmoid(logit)

    def with_threshold(self, threshold: float) -> "Rescorer":
        """The same model with acceptance at ``threshold`` moved to 0.5."""
        return dataclasses.replace(self, output_bias=self.output_bias - math.log(threshold / (1.0 - threshold)))

    def candidates(self, text: str, probs: np.ndarray, lexicon: Lexicon,
                   cleaning: CleaningConfig) -> tuple[list[str], np.ndarray]:
        """Candidate strings of ``text`` and their features, as this rescorer was fitted on them."""
        return candidate_features(text, probs, lexicon, cleaning, self.candidate_o_scale, self.groups,
                                  self.word_limits)

    def accepted(self, text: str, probs: np.ndarray, lexicon: Lexicon, cleaning: CleaningConfig) -> dict[str, float]:
        """Accepted candidate strings of ``text`` and their probabilities (all > 0.5)."""
        names, x = self.candidates(text, probs, lexicon, cleaning)
        if not names:
            return {}
        p = self.probabilities(x)
        return {name: float(v) for name, v in zip(names, p) if v > 0.5}

    def decide(self, text: str, probs: np.ndarray, lexicon: Lexicon, cleaning: CleaningConfig) -> Decided:
        """``accepted_decided(text, self.accepted(...), self.nested)``, read off the occurrences the
        features were computed from (no matcher built over the accepted strings), the probabilities
        from the factored features (:meth:`screened_probabilities`: the same up to ~1e-15)."""
        described = described_candidates(text, probs, lexicon, cleaning, self.candidate_o_scale, self.groups,
                                         self.word_limits)
        if described is None:
            return occurrences_decided(len(text), *no_spans(), np.zeros(0), self.nested)
        occurrences, features = described
        p = self.screened_probabilities(features)
        accepted = p[occurrences.k] > 0.5
        return occurrences_decided(len(text), occurrences.s[accepted], occurrences.e[accepted],
                                   p[occurrences.k[accepted]], self.nested)


class RescorerDecision(Decision):
    """The phrase rescorer bound to the checkpoint's training lexicon and cleaning."""

    kind = "rescorer"
    uses_lexicon = True

    def __init__(self, rescorer: Rescorer, lexicon: Lexicon | None, cleaning: CleaningConfig | None) -> None:
        self.rescorer, self.lexicon, self.cleaning = rescorer, lexicon, cleaning

    def decide(self, text: str, probs: np.ndarray) -> Decided:
        if self.lexicon is None or self.cleaning is None:
            raise ValueError("phrase rescoring needs the checkpoint's lexicon and cleaning")
        return self.rescorer.decide(text, probs, self.lexicon, self.cleaning)

    def params(self) -> dict:
        return self.rescorer.to_dict()

    def describe(self) -> str:
        r = self.rescorer
        model = "logistic regression"
        if r.hidden:
            width = len(r.hidden) // r.members
            model = f"hidden {width}" if r.members == 1 else f"{r.members} networks of hidden {width}"
        nested = ", nested phrases" if r.nested else ""
        runs = ""
        if r.word_limits != (MAX_WORDS, MAX_CHARS):
            runs = ", word runs up to {} words / {} chars".format(*r.word_limits)
        return (f"phrase rescorer ({model}, {len(feature_names(r.groups))} features, "
                f"candidates at O scale {r.candidate_o_scale:g}{runs}{nested})")

    @classmethod
    def from_dict(cls, cfg: Mapping, lexicon: Lexicon | None, cleaning: CleaningConfig | None) -> "RescorerDecision":
        return cls(Rescorer.from_dict(cfg), lexicon, cleaning)
