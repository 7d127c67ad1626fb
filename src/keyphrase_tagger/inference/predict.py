"""``predict(cfg)``: a checkpoint + an input file -> one JSON line of phrases per document."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig
from tqdm.auto import tqdm

from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.io import open_output, read_inputs, result_line


def predict(cfg: DictConfig) -> int:
    """Returns the number of documents written.

    Everything a user can get wrong (arguments, input file, checkpoint directory) is checked before
    torch is imported and before the output is opened: a bad call fails fast and writes nothing.
    """
    for key in ("checkpoint", "input", "output"):
        if cfg.get(key) in (None, ""):
            raise ConfigError(f"{key}= is required: kpt-predict checkpoint=DIR input=FILE output=FILE")
    if str(cfg.output) != "-" and Path(str(cfg.output)).is_dir():
        raise ConfigError(f"output={cfg.output}: is a directory, expected a file path (or - for stdout)")
    if cfg.get("top_k") is not None and int(cfg.top_k) < 0:
        raise ConfigError(f"top_k={cfg.top_k}: must be null or >= 0")
    docs = read_inputs(str(cfg.input), cfg.get("format", "auto"))
    CheckpointSettings.load(cfg.checkpoint)  # raises CheckpointError on a directory that is not one

    from transformers.utils import logging as hf_logging

    from keyphrase_tagger.inference.extractor import KeyphraseExtractor

    hf_logging.disable_progress_bar()  # stderr keeps one bar: documents, not weight loading
    extractor = KeyphraseExtractor.from_pretrained(cfg.checkpoint, device=cfg.device, batch_size=int(cfg.batch_size))
    options = {"min_score": float(cfg.min_score), "top_k": cfg.top_k, "unique": bool(cfg.unique)}
    chunk = max(1, int(cfg.documents_per_chunk))
    with open_output(str(cfg.output)) as out, tqdm(total=len(docs), unit="doc", file=sys.stderr,
                                                   disable=len(docs) < 2 or None) as bar:
        for i in range(0, len(docs), chunk):
            part = docs[i : i + chunk]
            for (doc_id, _), phrases in zip(part, extractor.extract_many([t for _, t in part], **options)):
                out.write(result_line(doc_id, phrases) + "\n")
            bar.update(len(part))
    return len(docs)
