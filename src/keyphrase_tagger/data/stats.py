"""What labeling kept, dropped and why: per-document counts pooled per split, and a table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_EXAMPLES = 5
DROP_REASONS = ("empty", "too_short", "stop_phrase", "duplicate", "missing")


@dataclass
class DocumentStats:
    characters: int
    raw_phrases: int
    kept_phrases: int
    tagged_spans: int
    tagged_characters: int
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (reason, phrase)
    # Kept and occurring, but every occurrence overlaps a chosen (longer or earlier) match.
    shadowed: list[str] = field(default_factory=list)


class StatsPool:
    """Counts of many documents, added one at a time: the documents need not be held together."""

    def __init__(self) -> None:
        self.documents = self.characters = self.raw_phrases = self.kept_phrases = 0
        self.tagged_spans = self.tagged_characters = 0
        self.dropped: dict[str, dict] = {r: {"count": 0, "examples": []} for r in DROP_REASONS}
        self.shadowed: dict = {"count": 0, "examples": []}

    def add(self, d: DocumentStats) -> None:
        self.documents += 1
        self.characters += d.characters
        self.raw_phrases += d.raw_phrases
        self.kept_phrases += d.kept_phrases
        self.tagged_spans += d.tagged_spans
        self.tagged_characters += d.tagged_characters
        for reason, phrase in d.dropped:
            entry = self.dropped[reason]
            entry["count"] += 1
            if len(entry["examples"]) < MAX_EXAMPLES and phrase not in entry["examples"]:
                entry["examples"].append(phrase)
        self.shadowed["count"] += len(d.shadowed)
        for phrase in d.shadowed:
            if len(self.shadowed["examples"]) < MAX_EXAMPLES and phrase not in self.shadowed["examples"]:
                self.shadowed["examples"].append(phrase)

    def result(self) -> dict:
        """The pooled counts, as ``stats.json`` records them for one split."""
        chars, tagged = self.characters, self.tagged_characters
        return {
            "documents": self.documents,
            "characters": chars,
            "raw_phrases": self.raw_phrases,
            "kept_phrases": self.kept_phrases,
            "dropped": self.dropped,
            "shadowed": self.shadowed,
            "tagged_spans": self.tagged_spans,
            "tagged_characters": tagged,
            "tagged_fraction": round(tagged / chars, 4) if chars else 0.0,
        }


def pool_stats(docs: Iterable[DocumentStats]) -> dict:
    pool = StatsPool()
    for d in docs:
        pool.add(d)
    return pool.result()


def format_stats_table(stats: dict[str, dict]) -> str:
    """A fixed-width table: one column per split, one row per count."""
    names = list(stats)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, get) -> None:
        rows.append((label, [str(get(stats[n])) for n in names]))

    for key in ("documents", "characters", "raw_phrases", "kept_phrases"):
        row(key, lambda s, k=key: s[k])
    for reason in DROP_REASONS:
        row(f"dropped: {reason}", lambda s, r=reason: s["dropped"][r]["count"])
    row("shadowed (never tagged)", lambda s: s["shadowed"]["count"])
    for key in ("tagged_spans", "tagged_characters", "tagged_fraction"):
        row(key, lambda s, k=key: s[k])
    width = max(len(r[0]) for r in rows)
    col = max(10, *(len(n) for n in names), *(len(v) for _, vals in rows for v in vals))
    lines = [" " * width + "  " + "  ".join(n.rjust(col) for n in names)]
    lines += [label.ljust(width) + "  " + "  ".join(v.rjust(col) for v in vals) for label, vals in rows]
    examples = stats.get("all", next(iter(stats.values())))
    for reason in DROP_REASONS:
        ex = examples["dropped"][reason]["examples"]
        if ex:
            lines.append(f"e.g. {reason}: " + " | ".join(ex))
    if examples["shadowed"]["examples"]:
        lines.append("e.g. shadowed: " + " | ".join(examples["shadowed"]["examples"]))
    return "\n".join(lines)
