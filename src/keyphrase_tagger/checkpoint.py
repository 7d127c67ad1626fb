"""What a checkpoint directory holds besides the HF model: ``keyphrase_tagger.json``.

A checkpoint is an ordinary ``save_pretrained`` directory (config with ``id2label``,
``model.safetensors``, tokenizer files) plus the settings inference needs to see text exactly as
training did (window, cleaning), the training data config (so evaluation can rebuild the same
splits) and ``lexicon.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.errors import CheckpointError

SETTINGS_FILE = "keyphrase_tagger.json"


@dataclass(frozen=True)
class CheckpointSettings:
    max_chars: int
    stride: int
    cleaning: CleaningConfig
    data: dict = field(default_factory=dict)
    lexicon_features: dict = field(default_factory=dict)  # LexiconFeatureConfig.to_dict()
    decoding: dict = field(default_factory=dict)  # recipe.DecodingSettings.to_dict(), chosen on validation

    def save(self, directory: str | Path) -> None:
        payload = {
            "window": {"max_chars": self.max_chars, "stride": self.stride},
            "cleaning": self.cleaning.to_dict(),
            "data": self.data,
            "lexicon_features": self.lexicon_features,
            "decoding": self.decoding,
        }
        (Path(directory) / SETTINGS_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "CheckpointSettings":
        directory = Path(directory)
        check_checkpoint_dir(directory)
        try:
            payload = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
            return cls(
                max_chars=int(payload["window"]["max_chars"]),
                stride=int(payload["window"]["stride"]),
                cleaning=CleaningConfig.from_dict(payload.get("cleaning")),
                data=payload.get("data", {}),
                lexicon_features=payload.get("lexicon_features", {}),
                decoding=payload.get("decoding", {}),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{directory / SETTINGS_FILE}: unreadable settings ({err})") from None


def check_checkpoint_dir(directory: str | Path) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint directory not found")
    for name in ("config.json", SETTINGS_FILE):
        if not (directory / name).is_file():
            hint = " (pass the run's model/ directory)" if (directory / "model" / name).is_file() else ""
            raise CheckpointError(f"{directory}: not a keyphrase-tagger checkpoint, {name} is missing{hint}")
    return directory
