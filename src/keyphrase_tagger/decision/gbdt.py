"""A gradient-boosted phrase rescorer (``decision.rescore_model: gbdt``): LightGBM's binary
classifier over the same candidates and feature matrix as the network of ``rescorer.py``, its
threshold chosen on validation by the same search, its phrases decoded the same way (accepted
strings, nested or not). Saved inside the checkpoint's decision as LightGBM's model text.

LightGBM is an optional dependency (``pip install 'keyphrase-tagger[gbdt]'``); it is imported only
where a gradient-boosted rescorer is fitted or loaded.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.candidates import GROUPS, feature_names
from keyphrase_tagger.decision.features import BLOCK_ROWS, Features
from keyphrase_tagger.decision.rescorer import (
    Rescorer,
    RescorerDecision,
    saved_groups,
    saved_word_limits,
    sigmoid,
)
from keyphrase_tagger.decision.rescorer_fit import choose_threshold, training_matrix
from keyphrase_tagger.errors import CheckpointError, ConfigError
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.records import Document

log = logging.getLogger(__name__)

# What makes the fit a binary classifier and reproducible (the same data, seed and thread count give
# the same trees); the hyperparameters come from ``decision.rescore_gbdt``.
FIXED_PARAMS: dict = {"objective": "binary", "deterministic": True, "force_row_wise": True, "verbosity": -1}


def lightgbm(error: type[Exception] = ConfigError):
    """The ``lightgbm`` module; ``error`` (one line) where it is not installed."""
    try:
        import lightgbm as lgb
    except ImportError:
        raise error("decision.rescore_model=gbdt needs LightGBM, which is not installed: "
                    "pip install 'keyphrase-tagger[gbdt]'") from None
    return lgb


@dataclass(frozen=True, kw_only=True)  # kw_only: a field without default after Rescorer's defaults
class GbdtRescorer(Rescorer):
    """A :class:`Rescorer` whose classifier is a LightGBM booster (``booster``: its model text):
    ``logit = raw score + output_bias``, ``output_bias`` holding ``-logit(threshold)`` as for the
    network, so candidates are accepted iff their probability exceeds 0.5. The network's weights
    (``mean`` ... ``hidden_bias``) are empty."""

    booster: str

    @classmethod
    def of(cls, candidate_o_scale: float, booster: str, output_bias: float, groups: tuple[str, ...],
           nested: bool, word_limits: tuple[int, int]) -> "GbdtRescorer":
        return cls(candidate_o_scale=candidate_o_scale, mean=(), scale=(), output=(), output_bias=output_bias,
                   hidden=(), hidden_bias=(), groups=groups, nested=nested, members=1,
                   word_limits=tuple(word_limits), booster=booster)

    @functools.cached_property
    def _booster(self):
        """The booster parsed once per rescorer."""
        return lightgbm(CheckpointError).Booster(model_str=self.booster)

    @property
    def num_trees(self) -> int:
        return self._booster.num_trees()

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Each candidate's probability: all candidates of a text in one call, on one thread (a
        text's few hundred rows are not worth waking more on a busy machine)."""
        raw = self._booster.predict(x, raw_score=True, num_threads=1)
        return sigmoid(raw + self.output_bias)

    def factored_probabilities(self, features: Features) -> np.ndarray:
        """:meth:`probabilities` of the full matrix (trees read columns, not products), written
        :data:`~keyphrase_tagger.decision.features.BLOCK_ROWS` candidates at a time."""
        n = len(features.dense)
        return np.concatenate([self.probabilities(features.rows(a, a + BLOCK_ROWS).matrix())
                               for a in range(0, n, BLOCK_ROWS)]) if n else self.probabilities(features.matrix())

    def screened_probabilities(self, features: Features) -> np.ndarray:
        """:meth:`factored_probabilities`: trees have no cheaper pass to screen candidates with."""
        return self.factored_probabilities(features)

    @classmethod
    def from_dict(cls, cfg: Mapping) -> "GbdtRescorer":
        """The rescorer :meth:`to_dict` saved; :class:`CheckpointError` if its features are not the
        ones this version computes or its booster does not read that many, ``KeyError`` for a
        missing key."""
        groups = saved_groups(cfg)
        rescorer = cls.of(float(cfg["candidate_o_scale"]), str(cfg["booster"]), float(cfg["output_bias"]), groups,
                          bool(cfg["nested"]), saved_word_limits(cfg))
        n = len(feature_names(groups))
        if rescorer._booster.num_feature() != n:
            raise CheckpointError(f"decision (rescorer): the booster reads {rescorer._booster.num_feature()} "
                                  f"features, not the {n} of its groups (damaged settings)")
        return rescorer

    def to_dict(self) -> dict:
        return {"model": "gbdt", "candidate_o_scale": self.candidate_o_scale, "groups": list(self.groups),
                "features": list(feature_names(self.groups)), "output_bias": self.output_bias,
                "nested": self.nested, "max_words": self.word_limits[0], "max_chars": self.word_limits[1],
                "booster": self.booster}


class GbdtRescorerDecision(RescorerDecision):
    """The gradient-boosted rescorer bound to the checkpoint's training lexicon and cleaning."""

    def describe(self) -> str:
        r = self.rescorer
        nested = ", nested phrases" if r.nested else ""
        return (f"phrase rescorer (LightGBM, {r.num_trees} trees, {len(feature_names(r.groups))} features, "
                f"candidates at O scale {r.candidate_o_scale:g}{nested})")

    @classmethod
    def from_dict(cls, cfg: Mapping, lexicon: Lexicon | None,
                  cleaning: CleaningConfig | None) -> "GbdtRescorerDecision":
        return cls(GbdtRescorer.from_dict(cfg), lexicon, cleaning)


def fit_gbdt_rescorer(
    train: Sequence[tuple[Document, np.ndarray, Lexicon]],
    validation: Sequence[tuple[Document, np.ndarray]],
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    candidate_o_scale: float,
    params: Mapping,
    *,
    groups: Sequence[str],
    nested: bool,
    word_limits: tuple[int, int],
    threads: int | None,
    show_progress: bool = False,
) -> tuple[GbdtRescorer, float]:
    """As :func:`~keyphrase_tagger.decision.rescorer_fit.fit_rescorer`, with a LightGBM booster
    for the network: ``params`` are LightGBM's (``num_boost_round`` the number of trees), fitted
    on ``threads`` threads (``None``: one). Returns the rescorer (threshold folded in) and its
    validation F1."""
    lgb = lightgbm()
    groups = tuple(g for g in GROUPS if g in groups)
    x, y = training_matrix(train, cleaning, candidate_o_scale, groups, tuple(word_limits), show_progress)
    started = time.perf_counter()
    params = dict(params)
    rounds = int(params.pop("num_boost_round"))
    booster = lgb.train({**params, **FIXED_PARAMS, "num_threads": threads or 1}, lgb.Dataset(x, label=y),
                        num_boost_round=rounds)
    rescorer = GbdtRescorer.of(candidate_o_scale, booster.model_to_string(), 0.0, groups, nested, word_limits)
    log.info("rescorer: LightGBM, %d trees of up to %d leaves fitted (%.1f s)", rounds, int(params["num_leaves"]),
             time.perf_counter() - started)
    started = time.perf_counter()
    threshold, f1 = choose_threshold(rescorer, validation, lexicon, cleaning, show_progress)
    log.info("rescorer: threshold %.3f chosen on %d validation documents, phrase F1 %.4f (%.1f s)", threshold,
             len(validation), f1, time.perf_counter() - started)
    return rescorer.with_threshold(threshold), f1
