"""``kpt-train tagger_from=<checkpoint>``: keep a trained checkpoint's tagger and fit only the decision.

The decision is fitted by the same code as after training (``decision/fit.py``), on the same
documents, with the tagger's probabilities under the same inputs, so a refit with the checkpoint's
own decision config reproduces its saved decision. ``tagger_from`` names a checkpoint (a run's
``model/``), a run directory, or a sweep directory, where the job trained on this run's data
settings is taken (how a decision option is tried on every fold of a cross-validation).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.checkpoint import SETTINGS_FILE, CheckpointSettings
from keyphrase_tagger.data.fingerprint import file_sha256
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.tagger.lexicon_inputs import LexiconFeatureConfig

log = logging.getLogger(__name__)


# Where and in what batches the prepared dataset is written: neither changes the data.
NOT_THE_DATA = ("processed_dir", "write_batch_documents")


def _checkpoints_under(path: Path) -> list[Path]:
    """The checkpoint ``path`` is, the run's checkpoint it holds, or its sweep jobs' checkpoints."""
    if (path / SETTINGS_FILE).is_file():
        return [path]
    if (path / "model" / SETTINGS_FILE).is_file():
        return [path / "model"]
    return sorted(p.parent for p in path.glob(f"*/model/{SETTINGS_FILE}"))


def run_data_settings(cfg: DictConfig) -> dict:
    """The run's ``data`` settings as a checkpoint records them (corpus path absolute)."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    data["corpus_path"] = str(Path(data["corpus_path"]).resolve())
    return data


def _same_corpus(here: str, there: str) -> bool:
    """The same corpus: the same path, or files with the same bytes (another clone's copy)."""
    if here == there:
        return True
    digest = file_sha256(here)
    return digest is not None and digest == file_sha256(there)


def _first_difference(a: dict, b: dict, prefix: str = "data") -> str | None:
    """The first setting of ``b`` (the checkpoint's) that differs from ``a`` (this run's), in words."""
    for key in sorted(set(a) | set(b)):
        if prefix == "data" and key == "corpus_path":
            if not _same_corpus(a[key], b.get(key)):
                return f"data.corpus_path is {b.get(key)} there, {a[key]} here (not the same file)"
            continue
        if prefix == "data" and key in NOT_THE_DATA:
            continue
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            found = _first_difference(a[key], b[key], f"{prefix}.{key}")
            if found:
                return found
        elif a.get(key) != b.get(key):
            return f"{prefix}.{key} is {json.dumps(b.get(key))} there, {json.dumps(a.get(key))} here"
    return None


def resolve_tagger_from(cfg: DictConfig) -> Path:
    """The checkpoint ``cfg.tagger_from`` names, trained with this run's data and lexicon features;
    else :class:`ConfigError` naming the first setting that differs."""
    source = Path(str(cfg.tagger_from))
    found = _checkpoints_under(source)
    if not found:
        raise ConfigError(f"tagger_from={source}: no checkpoint there (a run's model/ directory, a run directory "
                          "or a sweep directory)")
    data = run_data_settings(cfg)
    settings = {c: CheckpointSettings.load(c) for c in found}
    differences = {c: _first_difference(data, s.data) for c, s in settings.items()}
    matching = [c for c in found if differences[c] is None]
    if not matching:
        differs = differences[found[0]]
        what = f"{found[0]}: {differs}" if len(found) == 1 else f"none of its {len(found)} checkpoints (e.g. {differs})"
        raise ConfigError(f"tagger_from={source}: not trained on this run's data ({what}); "
                          "pass the data overrides it was trained with")
    if len(matching) > 1:
        raise ConfigError(f"tagger_from={source}: {len(matching)} checkpoints trained on this run's data; name one")
    checkpoint = matching[0]
    saved = LexiconFeatureConfig.from_dict(settings[checkpoint].lexicon_features)
    if saved != LexiconFeatureConfig.from_dict(OmegaConf.to_container(cfg.features, resolve=True)):
        raise ConfigError(f"tagger_from={checkpoint}: its tagger reads lexicon features {saved.to_dict()}, this "
                          "run's features config differs (features=... as it was trained)")
    return checkpoint


def load_tagger(checkpoint: Path, max_chars: int):
    """``(model, tokenizer, crf)`` of a saved checkpoint, to fit a new decision on: ``crf`` its CRF
    head (``crf.safetensors``), ``None`` for a softmax head. The checkpoint's head is kept, whatever
    this run's ``model.head``."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from keyphrase_tagger.checkpoint import validate_checkpoint

    settings = validate_checkpoint(checkpoint)
    if settings.max_chars != max_chars:
        raise ConfigError(f"tagger_from={checkpoint}: windows of {settings.max_chars} characters there, "
                          f"data.window.max_chars={max_chars} here")
    log.info("tagger from %s: not trained again; only the decision is fitted", checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = AutoModelForTokenClassification.from_pretrained(str(checkpoint), use_safetensors=True)
    if settings.head != "crf":
        return model, tokenizer, None
    from keyphrase_tagger.tagger.crf import load_crf

    return model, tokenizer, load_crf(checkpoint)


def trained_model_config(checkpoint: Path) -> dict | None:
    """The ``model`` config the checkpoint's tagger was trained with, from its run's ``run_info.json``
    beside it; ``None`` where that record is missing or unreadable."""
    try:
        model = json.loads((checkpoint.parent / "run_info.json").read_text(encoding="utf-8"))["config"]["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return model if isinstance(model, dict) else None
