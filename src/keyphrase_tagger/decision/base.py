"""The interface every decision kind implements: per-character tag probabilities -> phrases."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from keyphrase_tagger.decision.decoder import Decided


class Decision(ABC):
    """How one checkpoint turns a text's tag probabilities into phrases.

    A kind (``configs/decision/<kind>.yaml``) is fitted after training (``decision/fit.py``), saved
    into the checkpoint as :meth:`to_dict` (under ``decision`` in ``keyphrase_tagger.json``) and
    loaded from it (``decision/kinds.py:load_decision``) once per extractor, with the checkpoint's
    lexicon and cleaning bound in.
    """

    kind: ClassVar[str]
    #: Whether :meth:`decide` reads the checkpoint's training lexicon.
    uses_lexicon: ClassVar[bool] = False

    @abstractmethod
    def decide(self, text: str, probs: np.ndarray) -> Decided:
        """The tags and phrase spans of ``text`` given its ``(len(text), 3)`` model probabilities."""

    @abstractmethod
    def params(self) -> dict:
        """The fitted settings (JSON-ready), everything :meth:`to_dict` stores besides the kind."""

    @abstractmethod
    def describe(self) -> str:
        """One short line for logs and ``metrics.json``; weights stay in the checkpoint."""

    def to_dict(self) -> dict:
        """What the checkpoint stores under ``decision``."""
        return {"kind": self.kind, **self.params()}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(self.kind)
