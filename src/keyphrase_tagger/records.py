"""The records that travel along the data line: documents in, phrases out."""

from __future__ import annotations

from dataclasses import dataclass

# Tag ids are fixed: checkpoints store them as id2label and every stage indexes arrays by them.
LABELS: tuple[str, ...] = ("O", "B-KP", "I-KP")
O, B, I = 0, 1, 2
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))


@dataclass(frozen=True)
class Document:
    """A document and its (cleaned) gold phrase list."""

    doc_id: str
    text: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Span:
    """Half-open character interval ``[start, end)`` of a document."""

    start: int
    end: int


@dataclass(frozen=True)
class Phrase:
    """A predicted keyphrase: ``text == document[start:end]``, ``0 <= score <= 1``."""

    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end, "score": self.score}
