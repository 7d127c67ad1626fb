"""``fit_decision``: the one way a decision is fitted, after the tagger is trained.

``kpt-train`` calls it with the best model's probabilities; so does a refit of a saved checkpoint's
decision (``kpt-train tagger_from=<checkpoint>``), which is how the cross-validation tooling tries
decision options on trained folds. Settings are chosen by phrase micro F1 on the validation split,
never on a test split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.decision.decoder import decode_phrases
from keyphrase_tagger.decision.gbdt import GbdtRescorerDecision, fit_gbdt_rescorer, lightgbm
from keyphrase_tagger.decision.kinds import Argmax, PriorFusion
from keyphrase_tagger.decision.phrase_scores import phrase_scores
from keyphrase_tagger.decision.rescorer import RescorerDecision
from keyphrase_tagger.decision.rescorer_fit import fit_rescorer
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.logging_setup import progress
from keyphrase_tagger.records import Document

log = logging.getLogger(__name__)

# The keys of the ``decision`` config each kind reads; the values live in configs/decision/ only. A
# rescorer falls back to the best O prior / fusion setting, so it reads that search's keys too.
PRIOR_FUSION_KEYS: tuple[str, ...] = ("o_scale", "fusion", "fusion_min_rate", "fusion_weight")
RESCORER_KEYS: tuple[str, ...] = ("rescore_features", "candidate_o_scale", "rescore_model", "rescore_hidden",
                                  "rescore_steps", "rescore_gbdt", "rescore_nested", "rescore_ensemble",
                                  "rescore_max_words", "rescore_max_chars")
DECISION_KEYS: dict[str, tuple[str, ...]] = {"argmax": (), "prior_fusion": PRIOR_FUSION_KEYS,
                                             "rescorer": PRIOR_FUSION_KEYS + RESCORER_KEYS}
DECISION_KINDS: tuple[str, ...] = tuple(DECISION_KEYS)
# The rescorer's classifier: the network (rescore_hidden, rescore_steps) or LightGBM (rescore_gbdt).
RESCORE_MODELS: tuple[str, ...] = ("mlp", "gbdt")

# Candidates searched on validation for a setting given as "auto" (the first is "no change").
O_SCALE_GRID: tuple[float, ...] = (1.0, 0.7, 0.5)
RATE_GRID: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
WEIGHT_GRID: tuple[float, ...] = (0.3, 1.0)


def check_decision(decision: Mapping) -> None:
    """Raise :class:`ConfigError` unless the ``decision`` config has every key its ``kind`` reads
    (``decision.kind=rescorer`` on top of ``decision=argmax`` would lack them)."""
    kind = decision.get("kind")
    if kind not in DECISION_KEYS:
        raise ConfigError(f"decision.kind={kind}: choose one of {', '.join(DECISION_KINDS)} (decision=<kind>)")
    missing = [k for k in DECISION_KEYS[kind] if k not in decision]
    if missing:
        raise ConfigError(f"decision.kind={kind}: decision.{missing[0]} is not set "
                          f"(decision={kind} selects a complete {kind} decision)")
    if kind == "rescorer" and decision["rescore_model"] == "gbdt":
        lightgbm()  # not installed: refused before any training
        if int(decision["rescore_ensemble"]) != 1:
            raise ConfigError("decision.rescore_ensemble: an ensemble of networks; the gbdt rescorer is one booster (set 1)")


def validation_f1(decision: Decision, documents: Sequence[Document], probs: Sequence[np.ndarray],
                  cleaning: CleaningConfig) -> float:
    """Phrase micro F1 of what ``decision`` returns on ``documents`` (as the extractor decodes it)."""
    predicted = [{p.text for p in decode_phrases(d.text, decision.decide(d.text, pr), cleaning)}
                 for d, pr in zip(documents, probs)]
    return phrase_scores(predicted, [d.phrases for d in documents])["micro"]["f1"]


def prior_fusion_grid(config: Mapping, lexicon: Lexicon) -> list[PriorFusion]:
    """The O prior / fusion settings ``config`` asks to search: a number fixes a setting, ``"auto"``
    searches its grid, ``fusion: false`` leaves the lexicon out; the first changes nothing."""

    def grid(key: str, auto: Sequence[float]) -> list:
        value = config[key]
        return list(auto) if value == "auto" else [None if value is None else float(value)]

    fusions: list[tuple[float | None, float]] = [(None, 1.0)]
    if config["fusion"]:
        fusions += [(r, w) for r in grid("fusion_min_rate", RATE_GRID) if r is not None
                    for w in grid("fusion_weight", WEIGHT_GRID)]
    return [PriorFusion(o_scale, rate, weight, lexicon) for o_scale in grid("o_scale", O_SCALE_GRID)
            for rate, weight in fusions]


def fit_decision(
    config: Mapping,
    documents: Sequence[Document],
    probs: Sequence[np.ndarray],
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    train: Sequence[tuple[Document, np.ndarray, Lexicon]] = (),
    show_progress: bool = False,
    threads: int | None = None,
) -> tuple[Decision, float]:
    """The decision of kind ``config["kind"]`` (the ``decision`` config group) with the best phrase
    micro F1 on ``documents`` (validation, with the model's ``probs``), and that F1.

    ``prior_fusion`` searches :func:`prior_fusion_grid`; ties keep the earlier setting, i.e. the
    smaller intervention. ``rescorer`` also fits the phrase rescorer on ``train`` (training
    documents, their model probabilities, their leave-one-out lexicons) and ships it only if it
    beats the best O prior / fusion setting on validation. Each step logs its result;
    ``show_progress``: progress bars on a terminal; ``threads``: LightGBM's (``None``: one).
    """
    check_decision(config)
    if config["kind"] == "argmax":
        return Argmax(), validation_f1(Argmax(), documents, probs, cleaning)
    started = time.perf_counter()
    candidates = prior_fusion_grid(config, lexicon)
    best: tuple[float, Decision] = (-1.0, candidates[0])
    for decision in progress(candidates, "O prior / fusion settings", enabled=show_progress):
        f1 = validation_f1(decision, documents, probs, cleaning)
        if f1 > best[0]:
            best = (f1, decision)
    log.info("decision: best of %d O prior / fusion settings on %d validation documents: %s, phrase F1 %.4f "
             "(%.1f s)", len(candidates), len(documents), best[1].describe(), best[0], time.perf_counter() - started)
    if config["kind"] == "rescorer":
        if not train:
            raise ValueError("the phrase rescorer is fitted on training documents: none were given")
        decision = fit_rescorer_decision(config, list(zip(documents, probs)), lexicon, cleaning, train, threads,
                                         show_progress)
        f1 = validation_f1(decision, documents, probs, cleaning)
        log.info("decision: phrase rescorer %.4f against %.4f for the best O prior / fusion setting: %s", f1, best[0],
                 "rescorer kept" if f1 > best[0] else "rescorer dropped")
        if f1 > best[0]:
            best = (f1, decision)
    return best[1], best[0]


def fit_rescorer_decision(config: Mapping, validation: Sequence[tuple[Document, np.ndarray]], lexicon: Lexicon,
                          cleaning: CleaningConfig, train: Sequence[tuple[Document, np.ndarray, Lexicon]],
                          threads: int | None, show_progress: bool) -> RescorerDecision:
    """The phrase rescorer of ``config["rescore_model"]`` fitted on ``train``, its threshold on ``validation``."""
    common = {"groups": tuple(config["rescore_features"]), "nested": bool(config["rescore_nested"]),
              "word_limits": (int(config["rescore_max_words"]), int(config["rescore_max_chars"])),
              "show_progress": show_progress}
    if config["rescore_model"] == "gbdt":
        gbdt, _ = fit_gbdt_rescorer(train, validation, lexicon, cleaning, float(config["candidate_o_scale"]),
                                    config["rescore_gbdt"], threads=threads, **common)
        return GbdtRescorerDecision(gbdt, lexicon, cleaning)
    rescorer, _ = fit_rescorer(train, validation, lexicon, cleaning, float(config["candidate_o_scale"]),
                               int(config["rescore_hidden"]), steps=int(config["rescore_steps"]),
                               ensemble=int(config["rescore_ensemble"]), **common)
    return RescorerDecision(rescorer, lexicon, cleaning)
