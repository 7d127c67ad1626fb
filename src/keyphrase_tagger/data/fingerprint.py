"""What a prepared dataset was made from: the corpus file's bytes and the settings that shape the labels.

A dataset whose fingerprint equals the one of the current corpus and ``data`` config holds exactly
the documents, tags and splits :func:`~keyphrase_tagger.data.prepare.prepare_corpus` would produce.
Paths (``corpus_path``, ``processed_dir``), windows and ``max_documents`` are not part of it: they
change where things are or what training takes, not the prepared documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.splits import split_settings

# The dataset's columns and the labeling rules: a change to either makes every earlier dataset stale.
DATASET_FORMAT = 1
_CHUNK = 1 << 20


def preparation_settings(data_cfg: Mapping) -> dict:
    """The settings of ``data_cfg`` (the ``data`` group) that decide the labels and splits, with the
    defaults :func:`~keyphrase_tagger.data.prepare.prepare_corpus` applies filled in."""
    split = split_settings(data_cfg.get("split"))
    return {
        "on_missing_phrase": data_cfg.get("on_missing_phrase", "warn"),
        "overlap": data_cfg.get("overlap", "leftmost_longest"),
        "cleaning": CleaningConfig.from_dict(data_cfg.get("cleaning")).to_dict(),
        "split": {**split, "ratios": list(split["ratios"])},
    }


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 of the file's bytes, read in chunks; ``None`` where it cannot be read (reading the
    corpus reports why)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _flat(settings: Mapping, prefix: str = "data.") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


@dataclass(frozen=True)
class Fingerprint:
    """The corpus content and the preparation settings of a dataset."""

    corpus_sha256: str | None
    settings: dict

    @classmethod
    def of(cls, data_cfg: Mapping) -> "Fingerprint":
        """The fingerprint of the corpus ``data_cfg`` names, as its file is now, and of its settings.

        Computed before the corpus is read: should the file change meanwhile, the dataset carries the
        older content's digest and the next run prepares it again instead of trusting it."""
        settings = preparation_settings(data_cfg)
        return cls(file_sha256(data_cfg["corpus_path"]), settings)

    def to_dict(self) -> dict:
        return {"format": DATASET_FORMAT, "corpus_sha256": self.corpus_sha256, "settings": self.settings}

    @property
    def digest(self) -> str | None:
        """One string for the whole fingerprint; ``None`` where the corpus could not be read."""
        if self.corpus_sha256 is None:
            return None
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def matches(self, stored: object) -> bool:
        """Whether ``stored`` (a dataset's recorded fingerprint) is this one."""
        return self.digest is not None and isinstance(stored, Mapping) and stored.get("digest") == self.digest

    def changes(self, stored: object) -> str:
        """Why a dataset with the fingerprint ``stored`` is not this one, in a few words."""
        if not isinstance(stored, Mapping):
            return "it records no fingerprint"
        reasons = []
        if stored.get("format") != DATASET_FORMAT:
            reasons.append("it was written in another dataset format")
        if stored.get("corpus_sha256") != self.corpus_sha256:
            reasons.append("the corpus file's content differs")
        old, new = _flat(stored.get("settings") or {}), _flat(self.settings)
        reasons += [f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(set(old) | set(new))
                    if old.get(key) != new.get(key)]
        return ", ".join(reasons) or "its fingerprint differs"

    def record(self) -> dict:
        """What a dataset's ``stats.json`` keeps under ``fingerprint``."""
        return {"digest": self.digest, **self.to_dict()}
