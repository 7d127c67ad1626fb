"""Decision settings chosen on validation and saved with the checkpoint: the O-tag prior and
gazetteer fusion.

Adjustments of the model's per-character probabilities, applied by
``KeyphraseExtractor.predict_probs`` before the one decoder
(:func:`keyphrase_tagger.decoding.decode_phrases`) runs, so evaluation and prediction see the
same probabilities:

- ``o_scale`` multiplies ``P(O)`` and renormalises (a prior shift): below 1 the decoder marks
  more characters as inside a phrase, i.e. it is the recall/precision threshold of the tagger;
- fusion mixes the calibrated training lexicon into the probabilities,
  ``p <- (1 - w) * p + w * tags_of_match`` over every match of a lexicon phrase whose rate
  P(listed | occurs) exceeds ``fusion_min_rate``: the lexicon knows phrases the model misses;
- or, replacing both, the phrase-level rescorer (``rescoring.py``) decides per candidate string; the
  decoder then returns exactly the accepted strings (:class:`~keyphrase_tagger.decoding.Prediction`).

:func:`tune_decoding` picks them by phrase micro F1 on the validation split after training,
never on a test split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import PhraseMatcher
from keyphrase_tagger.decoding import Prediction, decode_phrases, scale_o
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.lexicon import Lexicon
from keyphrase_tagger.logging_setup import progress
from keyphrase_tagger.phrase_scores import phrase_scores
from keyphrase_tagger.records import B, I, Document
from keyphrase_tagger.rescoring import Rescorer, fit_rescorer

log = logging.getLogger(__name__)

# The kinds of decision (configs/decision/<kind>.yaml) and the keys of the ``decision`` config each
# reads; the values live in those files only. A rescorer falls back to the best O prior / fusion
# setting, so it reads that search's keys too.
DECISION_KINDS: tuple[str, ...] = ("argmax", "prior_fusion", "rescorer")
PRIOR_FUSION_KEYS: tuple[str, ...] = ("o_scale", "fusion", "fusion_min_rate", "fusion_weight")
RESCORER_KEYS: tuple[str, ...] = ("rescore_features", "candidate_o_scale", "rescore_hidden", "rescore_steps",
                                  "rescore_nested")
DECISION_KEYS: dict[str, tuple[str, ...]] = {"argmax": (), "prior_fusion": PRIOR_FUSION_KEYS,
                                             "rescorer": PRIOR_FUSION_KEYS + RESCORER_KEYS}

# Candidates searched on validation for a setting given as "auto" (the first is "no change").
O_SCALE_GRID: tuple[float, ...] = (1.0, 0.7, 0.5)
RATE_GRID: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
WEIGHT_GRID: tuple[float, ...] = (0.3, 1.0)


@dataclass(frozen=True)
class DecodingSettings:
    """What the checkpoint stores under ``"decoding"``; the defaults change nothing."""

    o_scale: float = 1.0
    fusion_min_rate: float | None = None  # None: no fusion
    fusion_weight: float = 1.0
    rescore: dict | None = None  # rescoring.Rescorer.to_dict(); when set, it replaces the O prior and fusion

    @classmethod
    def from_dict(cls, cfg: Mapping | None) -> "DecodingSettings":
        cfg = dict(cfg or {})
        rate = cfg.get("fusion_min_rate")
        return cls(
            o_scale=float(cfg.get("o_scale", 1.0)),
            fusion_min_rate=None if rate is None else float(rate),
            fusion_weight=float(cfg.get("fusion_weight", 1.0)),
            rescore=cfg.get("rescore"),
        )

    def to_dict(self) -> dict:
        out = {"o_scale": self.o_scale, "fusion_min_rate": self.fusion_min_rate, "fusion_weight": self.fusion_weight}
        if self.rescore is not None:
            out["rescore"] = self.rescore
        return out

    def describe(self) -> str:
        """One short line for logs and ``metrics.json``; the weights themselves stay in the checkpoint."""
        if self.rescore is not None:
            hidden = len(self.rescore.get("hidden") or ())
            model = f"hidden {hidden}" if hidden else "logistic regression"
            nested = ", nested phrases" if self.rescore.get("nested") else ""
            return (f"phrase rescorer ({model}, {len(self.rescore.get('features') or ())} features, "
                    f"candidates at O scale {self.rescore.get('candidate_o_scale')}{nested})")
        fusion = (f"fusion of lexicon phrases with rate > {self.fusion_min_rate:g} at weight {self.fusion_weight:g}"
                  if self.uses_fusion else "no fusion")
        return f"O scale {self.o_scale:g}, {fusion}"

    @property
    def uses_fusion(self) -> bool:
        return self.fusion_min_rate is not None and self.fusion_weight > 0

    @property
    def uses_lexicon(self) -> bool:
        return self.uses_fusion or self.rescore is not None


def fusion_matcher(lexicon: Lexicon | None, settings: DecodingSettings) -> PhraseMatcher | None:
    """The calibrated gazetteer fusion matches with (as the calibrated baseline builds it)."""
    if lexicon is None or not settings.uses_fusion:
        return None
    return PhraseMatcher(lexicon.phrases(min_rate=settings.fusion_min_rate))


def adjust(text: str, probs: np.ndarray, settings: DecodingSettings, matcher: PhraseMatcher | None,
           lexicon: Lexicon | None = None, cleaning: CleaningConfig | None = None) -> Prediction:
    """What the decoder reads for ``text``: ``probs`` (``(len(text), 3)``) after the O prior and
    fusion (rows still sum to 1), or the phrase-level rescorer's decision (which needs ``lexicon``
    and ``cleaning``)."""
    if settings.rescore is not None:
        if lexicon is None or cleaning is None:
            raise ValueError("phrase rescoring needs the checkpoint's lexicon and cleaning")
        return Rescorer.from_dict(settings.rescore).decide(text, probs, lexicon, cleaning)
    out = scale_o(probs, settings.o_scale)
    matches = matcher.find(text) if matcher is not None else []
    if matches:
        w = settings.fusion_weight
        out = out.astype(np.float64, copy=True) if out is probs else out
        for _, start, end in matches:
            out[start:end] *= 1.0 - w
            out[start, B] += w
            out[start + 1 : end, I] += w
    return Prediction(out)


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


def fits_decision(decision: Mapping | None) -> bool:
    """Whether the ``decision`` config asks for anything to be fitted after training."""
    return bool(decision) and decision.get("kind") != "argmax"


def _f1(documents: Sequence[Document], predictions: Sequence[Prediction], cleaning: CleaningConfig) -> float:
    predicted = [{p.text for p in decode_phrases(d.text, pr, cleaning)} for d, pr in zip(documents, predictions)]
    return phrase_scores(predicted, [d.phrases for d in documents])["micro"]["f1"]


def tune_decoding(
    documents: Sequence[Document],
    probs: Sequence[np.ndarray],
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    config: Mapping,
    train: Sequence[tuple[Document, np.ndarray, Lexicon]] = (),
    show_progress: bool = False,
) -> tuple[DecodingSettings, float]:
    """The settings with the best phrase micro F1 on ``documents`` (validation), and that F1.

    ``config`` (the ``decision`` group, kind ``prior_fusion`` or ``rescorer``) fixes a setting with
    a number or asks for a grid search with ``"auto"``; ``fusion: false`` turns fusion off. Ties
    keep the earlier candidate, i.e. the smaller intervention. Kind ``rescorer`` also fits the
    phrase-level rescorer on ``train`` (training documents, their model probabilities, their
    leave-one-out lexicons; see ``rescoring.py``) and keeps it if it beats the best grid setting on
    validation. Each step logs its result; ``show_progress``: progress bars on a terminal.
    """
    check_decision(config)

    def grid(key: str, auto: Sequence[float]) -> list:
        value = config[key]
        return list(auto) if value == "auto" else [None if value is None else float(value)]

    fusions: list[tuple[float | None, float]] = [(None, 1.0)]
    if config["fusion"]:
        fusions += [(r, w) for r in grid("fusion_min_rate", RATE_GRID) if r is not None
                    for w in grid("fusion_weight", WEIGHT_GRID)]
    candidates = [DecodingSettings(o_scale, rate, weight) for o_scale in grid("o_scale", O_SCALE_GRID)
                  for rate, weight in fusions]
    started = time.perf_counter()
    best: tuple[float, DecodingSettings] = (-1.0, DecodingSettings())
    for settings in progress(candidates, "O prior / fusion settings", enabled=show_progress):
        matcher = fusion_matcher(lexicon, settings)
        f1 = _f1(documents, [adjust(d.text, p, settings, matcher) for d, p in zip(documents, probs)], cleaning)
        if f1 > best[0]:
            best = (f1, settings)
    log.info("decoding: best of %d O prior / fusion settings on %d validation documents: %s, phrase F1 %.4f "
             "(%.1f s)", len(candidates), len(documents), best[1].describe(), best[0], time.perf_counter() - started)
    if config["kind"] == "rescorer" and train:
        rescorer, _ = fit_rescorer(train, list(zip(documents, probs)), lexicon, cleaning,
                                   float(config["candidate_o_scale"]), int(config["rescore_hidden"]),
                                   groups=tuple(config["rescore_features"]), steps=int(config["rescore_steps"]),
                                   nested=bool(config["rescore_nested"]), show_progress=show_progress)
        settings = DecodingSettings(rescore=rescorer.to_dict())
        f1 = _f1(documents, [adjust(d.text, p, settings, None, lexicon, cleaning)
                             for d, p in zip(documents, probs)], cleaning)
        log.info("decoding: phrase rescorer %.4f against %.4f for the best O prior / fusion setting: %s", f1, best[0],
                 "rescorer kept" if f1 > best[0] else "rescorer dropped")
        if f1 > best[0]:
            best = (f1, settings)
    return best[1], best[0]
