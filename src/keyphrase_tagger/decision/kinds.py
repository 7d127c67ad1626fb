"""The decision kinds that read the tags (``argmax``, ``prior_fusion``), the registry of all kinds,
and :func:`load_decision`, what the extractor and the checkpoint check call.

``prior_fusion`` adjusts the model's per-character probabilities before reading them:

- ``o_scale`` multiplies ``P(O)`` and renormalises (a prior shift): below 1 more characters are
  read as inside a phrase, i.e. it is the recall/precision threshold of the tagger;
- fusion mixes the calibrated training lexicon in, ``p <- (1 - w) * p + w * tags_of_match`` over
  every match of a lexicon phrase whose rate P(listed | occurs) exceeds ``fusion_min_rate``: the
  lexicon knows phrases the model misses.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.decision.decoder import Decided, argmax_decided, scale_o
from keyphrase_tagger.decision.gbdt import GbdtRescorerDecision
from keyphrase_tagger.decision.rescorer import RescorerDecision
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.records import B, I


class Argmax(Decision):
    """Each character at its most probable tag; nothing fitted."""

    kind = "argmax"

    def decide(self, text: str, probs: np.ndarray) -> Decided:
        return argmax_decided(probs)

    def params(self) -> dict:
        return {}

    def describe(self) -> str:
        return "argmax"

    @classmethod
    def from_dict(cls, cfg: Mapping, lexicon: Lexicon | None, cleaning: CleaningConfig | None) -> "Argmax":
        return cls()


class PriorFusion(Decision):
    """An O prior and gazetteer fusion (see the module docstring), then the tags read by argmax."""

    kind = "prior_fusion"

    def __init__(self, o_scale: float = 1.0, fusion_min_rate: float | None = None, fusion_weight: float = 1.0,
                 lexicon: Lexicon | None = None) -> None:
        self.o_scale, self.fusion_min_rate, self.fusion_weight = float(o_scale), fusion_min_rate, float(fusion_weight)
        # Built once: the lexicon phrases above the rate, as the calibrated baseline matches them.
        self.matcher = (PhraseMatcher(lexicon.phrases(min_rate=fusion_min_rate))
                        if lexicon is not None and self.uses_fusion else None)

    @property
    def uses_fusion(self) -> bool:
        return self.fusion_min_rate is not None and self.fusion_weight > 0

    @property
    def uses_lexicon(self) -> bool:  # type: ignore[override]
        return self.uses_fusion

    def adjusted(self, text: str, probs: np.ndarray) -> np.ndarray:
        """``probs`` after the O prior and fusion (rows still sum to 1)."""
        out = scale_o(probs, self.o_scale)
        if self.uses_fusion and self.matcher is None:
            raise ValueError("gazetteer fusion needs the checkpoint's lexicon")
        matches = self.matcher.find(text) if self.matcher is not None else []
        if matches:
            w = self.fusion_weight
            out = out.astype(np.float64, copy=True) if out is probs else out
            for _, start, end in matches:
                out[start:end] *= 1.0 - w
                out[start, B] += w
                out[start + 1 : end, I] += w
        return out

    def decide(self, text: str, probs: np.ndarray) -> Decided:
        return argmax_decided(self.adjusted(text, probs))

    def params(self) -> dict:
        return {"o_scale": self.o_scale, "fusion_min_rate": self.fusion_min_rate, "fusion_weight": self.fusion_weight}

    def describe(self) -> str:
        fusion = (f"fusion of lexicon phrases with rate > {self.fusion_min_rate:g} at weight {self.fusion_weight:g}"
                  if self.uses_fusion else "no fusion")
        return f"O scale {self.o_scale:g}, {fusion}"

    @classmethod
    def from_dict(cls, cfg: Mapping, lexicon: Lexicon | None, cleaning: CleaningConfig | None) -> "PriorFusion":
        rate = cfg["fusion_min_rate"]
        return cls(float(cfg["o_scale"]), None if rate is None else float(rate), float(cfg["fusion_weight"]), lexicon)


DECISIONS: dict[str, type[Decision]] = {kind.kind: kind for kind in (Argmax, PriorFusion, RescorerDecision)}
# A rescorer's classifier, by its saved ``model`` (a network's dict has none).
RESCORERS: dict[str, type[Decision]] = {"mlp": RescorerDecision, "gbdt": GbdtRescorerDecision}


def load_decision(cfg: Mapping | None, lexicon: Lexicon | None = None,
                  cleaning: CleaningConfig | None = None) -> Decision:
    """The decision a checkpoint stores (``cfg``, :meth:`Decision.to_dict`), bound to the
    checkpoint's ``lexicon`` and ``cleaning`` where it reads them; ``None`` or ``{}``: argmax.
    A malformed ``cfg`` raises :class:`CheckpointError` (validation calls this without a lexicon)."""
    cfg = dict(cfg or {"kind": "argmax"})
    kind = DECISIONS.get(cfg.get("kind"))
    if kind is None:
        raise CheckpointError(f"decision.kind={cfg.get('kind')!r}: not one of {', '.join(DECISIONS)}")
    if kind is RescorerDecision:
        kind = RESCORERS.get(cfg.get("model", "mlp"))
        if kind is None:
            raise CheckpointError(f"decision (rescorer): model {cfg['model']!r} is not one of {', '.join(RESCORERS)}")
    try:
        return kind.from_dict(cfg, lexicon, cleaning)
    except CheckpointError:
        raise
    except KeyError as err:
        raise CheckpointError(f"decision ({cfg['kind']}) lacks {err}") from None
    except (ValueError, TypeError, AttributeError) as err:
        raise CheckpointError(f"unreadable decision ({cfg['kind']}): {err}") from None
