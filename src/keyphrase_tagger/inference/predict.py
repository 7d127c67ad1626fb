"""``predict(cfg)``: a checkpoint + an input file -> one JSON line of phrases per document."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig
from tqdm.auto import tqdm

from keyphrase_tagger.checkpoint import validate_checkpoint
from keyphrase_tagger.config.validate import validate_predict_config
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.io import open_output, read_inputs, result_line
from keyphrase_tagger.logging_setup import quiet_libraries


def check_options(cfg: DictConfig) -> dict:
    """What :func:`~keyphrase_tagger.config.validate.validate_predict_config` leaves to the command:
    the keys it cannot run without and an output that is no directory. Returns the decoding options
    (``min_score``, ``top_k``, ``unique``) for ``extract_many``; their types and ranges are the
    schema's (``config/schema.py``), the device the extractor's
    (:func:`~keyphrase_tagger.inference.extractor.resolve_device`), the input file ``read_inputs``'s.
    """
    for key in ("checkpoint", "input", "output"):
        if cfg.get(key) in (None, ""):
            raise ConfigError(f"{key}= is required: kpt-predict checkpoint=DIR input=FILE output=FILE")
    if str(cfg.output) != "-" and Path(str(cfg.output)).is_dir():
        raise ConfigError(f"output={cfg.output}: is a directory, expected a file path (or - for stdout)")
    if "-" not in (str(cfg.input), str(cfg.output)) and Path(str(cfg.output)).resolve() == Path(str(cfg.input)).resolve():
        raise ConfigError(f"output={cfg.output}: is the input file; choose another output path")
    return {"min_score": float(cfg.min_score), "top_k": cfg.top_k, "unique": cfg.unique}


def predict(cfg: DictConfig) -> int:
    """Returns the number of documents written.

    Everything a user can get wrong is checked before the output is opened: the values, then the
    input file, then the checkpoint (:func:`validate_checkpoint`), all before any weights load. A
    bad call fails fast and writes nothing.
    """
    validate_predict_config(cfg)
    options = check_options(cfg)
    docs = read_inputs(str(cfg.input), cfg.get("format", "auto"))
    validate_checkpoint(cfg.checkpoint)

    from keyphrase_tagger.inference.extractor import KeyphraseExtractor

    quiet_libraries(bool(cfg.get("verbose", False)))  # stderr keeps one bar: documents, not weight loading
    extractor = KeyphraseExtractor.from_pretrained(cfg.checkpoint, device=cfg.device, batch_size=cfg.batch_size,
                                                   precision=cfg.precision, chunk_chars=cfg.chunk_chars,
                                                   streams=cfg.streams)
    chunk = cfg.documents_per_chunk
    with open_output(str(cfg.output)) as out, tqdm(total=len(docs), unit="doc", file=sys.stderr,
                                                   disable=len(docs) < 2 or None) as bar:
        for i in range(0, len(docs), chunk):
            part = docs[i : i + chunk]
            # Each document's line is written as soon as it is decided: no chunk's phrases are held at once.
            for (doc_id, _), phrases in zip(part, extractor.iter_extract([t for _, t in part], **options)):
                out.write(result_line(doc_id, phrases) + "\n")
                bar.update(1)
    return len(docs)
