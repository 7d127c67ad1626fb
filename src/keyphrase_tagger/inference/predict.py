"""``predict(cfg)``: a checkpoint + an input file -> one JSON line of phrases per document."""

from __future__ import annotations

import sys

from omegaconf import DictConfig
from tqdm.auto import tqdm

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.inference.io import open_output, read_inputs, result_line


def predict(cfg: DictConfig) -> int:
    """Returns the number of documents written."""
    for key in ("checkpoint", "input", "output"):
        if cfg.get(key) in (None, ""):
            raise ConfigError(f"{key}= is required: kpt-predict checkpoint=DIR input=FILE output=FILE")
    docs = read_inputs(str(cfg.input), cfg.get("format", "auto"))
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
