"""Phrase-list cleaning: the rules a user picks in ``data.cleaning``; defaults are pinned.

The same ``strip_span`` trims gold phrases here and predicted spans at decoding time, so a
prediction is cleaned exactly as the gold list it is scored against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Pinned: punctuation and brackets (ASCII and full-width), quotes, space, tab, CR, LF and U+3000.
DEFAULT_STRIP_CHARS = "、，,。．.；;：:！!？?（）()“”\"‘’'《》〈〉【】[]「」『』" + " \t\r\n\u3000"

DROP_RULES = ("empty", "too_short", "stop_phrase", "duplicate")


@dataclass(frozen=True)
class CleaningConfig:
    strip_chars: str = DEFAULT_STRIP_CHARS
    min_chars: int = 2
    stop_phrases: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, cfg: Mapping | None) -> "CleaningConfig":
        cfg = dict(cfg or {})
        return cls(
            strip_chars=cfg.get("strip_chars") if cfg.get("strip_chars") is not None else DEFAULT_STRIP_CHARS,
            min_chars=int(cfg.get("min_chars", 2)),
            stop_phrases=frozenset(cfg.get("stop_phrases") or ()),
        )

    def to_dict(self) -> dict:
        return {"strip_chars": self.strip_chars, "min_chars": self.min_chars, "stop_phrases": sorted(self.stop_phrases)}


@dataclass(frozen=True)
class CleanedList:
    kept: tuple[str, ...]
    # (rule, cleaned-or-raw phrase) for every dropped entry, in list order.
    dropped: tuple[tuple[str, str], ...] = field(default=())


def strip_span(text: str, start: int, end: int, chars: str) -> tuple[int, int]:
    """Narrow ``[start, end)`` past any of ``chars`` at either end (may become empty).

    Over a whole phrase this is ``phrase.strip(chars)``, which :func:`clean_phrases` uses.
    """
    while start < end and text[start] in chars:
        start += 1
    while end > start and text[end - 1] in chars:
        end -= 1
    return start, end


def reject_reason(phrase: str, config: CleaningConfig) -> str | None:
    """Why a stripped phrase is not kept (``None`` when it is)."""
    if not phrase:
        return "empty"
    if len(phrase) < config.min_chars:
        return "too_short"
    if phrase in config.stop_phrases:
        return "stop_phrase"
    return None


def clean_phrases(raw: Iterable[str], config: CleaningConfig) -> CleanedList:
    """Strip, filter and de-duplicate a phrase list, keeping first-seen order."""
    kept: dict[str, None] = {}  # insertion-ordered set
    dropped: list[tuple[str, str]] = []
    for phrase in raw:
        cleaned = phrase.strip(config.strip_chars)  # strip_span over the whole phrase, in C
        reason = reject_reason(cleaned, config)
        if reason is None and cleaned in kept:
            reason = "duplicate"
        if reason is None:
            kept[cleaned] = None
        else:
            dropped.append((reason, cleaned or phrase))
    return CleanedList(tuple(kept), tuple(dropped))
