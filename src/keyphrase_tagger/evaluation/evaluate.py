"""``evaluate(cfg)``: a checkpoint on a split (or a whole other corpus) -> report.json/.md + plots."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.checkpoint import validate_checkpoint
from keyphrase_tagger.config.validate import validate_evaluate_config
from keyphrase_tagger.data.dataset import load_prepared
from keyphrase_tagger.decision.pieces import DECIDE_CHUNK_CHARS
from keyphrase_tagger.errors import ConfigError, CorpusFormatError
from keyphrase_tagger.evaluation.analysis import frequent_errors, scores_by_length
from keyphrase_tagger.evaluation.baselines import baseline_reports
from keyphrase_tagger.evaluation.report import (
    LEARNING_CURVE_PNG,
    SCORES_BY_LENGTH_PNG,
    markdown_report,
    plot_scores_by_length,
)
from keyphrase_tagger.evaluation.scoring import score_documents
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.logging_setup import quiet_libraries
from keyphrase_tagger.outputs import check_replaceable_directory, replace_directory
from keyphrase_tagger.records import Document

log = logging.getLogger(__name__)
SPLIT_CHOICES = ("train", "validation", "test", "all")
EVALUATION_REPORT = "evaluation_report"  # the kind named in the report directory's marker


def calibration_documents(train_data_cfg: dict) -> list[Document]:
    """The validation split of the training corpus: where the calibrated gazetteer's threshold is chosen.

    Evaluating another corpus must not need the training file; without it the threshold falls back
    to the default, and the report says so (``validation_documents: 0``).
    """
    try:
        return [d.document for d in load_prepared(train_data_cfg, write=False).split("validation")]
    except CorpusFormatError as err:
        log.warning("calibration on the training validation split impossible (%s): default threshold", err)
        return []


def build_report(checkpoint: str | Path, split: str = "test", corpus_path: str | None = None,
                 device: str = "auto", batch_size: int = 32, on_missing_phrase: str | None = None,
                 precision: str = "fp32", chunk_chars: int | None = DECIDE_CHUNK_CHARS,
                 streams: int | None = None) -> dict:
    """The report dictionary (see README, "Evaluation") for ``checkpoint`` on ``split``.

    The gold lists get the checkpoint's cleaning; ``split`` other than ``all`` rebuilds the
    training run's document split of its corpus (or of ``corpus_path`` when given).
    ``corpus_path`` and ``on_missing_phrase``, when given, override the checkpoint's data settings:
    they change which file is read and how strictly, not the cleaning or the split.
    ``device``, ``batch_size``, ``precision``, ``chunk_chars`` and ``streams`` are the extractor's
    (:meth:`~keyphrase_tagger.inference.extractor.KeyphraseExtractor.from_pretrained`).
    Documents come from the training run's prepared dataset where it matches (see
    :func:`~keyphrase_tagger.data.dataset.load_prepared`); evaluation never writes one.
    """
    if split not in SPLIT_CHOICES:
        raise ConfigError(f"split must be one of {SPLIT_CHOICES}, got {split!r}")
    settings = validate_checkpoint(checkpoint)  # a damaged checkpoint fails before the corpus is read
    lexicon = Lexicon.load(checkpoint)
    train_data_cfg = dict(settings.data)
    data_cfg = dict(train_data_cfg, corpus_path=str(corpus_path or train_data_cfg["corpus_path"]))
    if on_missing_phrase is not None:
        data_cfg["on_missing_phrase"] = on_missing_phrase
    if corpus_path:  # the training run's dataset is not this corpus's: labeled in memory
        data_cfg["processed_dir"] = None
    prepared = load_prepared(data_cfg, write=False)
    labeled = prepared.split(split)
    if not labeled:
        raise ConfigError(f"split {split!r} of {data_cfg['corpus_path']} holds no document; use split=all")
    documents = [d.document for d in labeled]
    # Calibration always uses the validation split of the training corpus, never the evaluated one.
    if corpus_path:
        validation = calibration_documents(train_data_cfg)
    else:
        validation = [d.document for d in prepared.split("validation")]

    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device=device, batch_size=batch_size,
                                                   precision=precision, chunk_chars=chunk_chars, streams=streams)
    # Each document's prediction is scored and dropped before the next is decided.
    predictions = extractor.iter_predict([d.text for d in documents])
    report = score_documents(documents, [d.tags for d in labeled], predictions, settings.cleaning)
    baselines = baseline_reports(lexicon, documents, validation)
    gold = [row["gold"] for row in report["per_document"]]
    for name, b in baselines.items():
        predicted = b.pop("predicted")
        b["by_length"] = scores_by_length(predicted, gold)
        for row, pred in zip(report["per_document"], predicted):
            row.setdefault("baselines", {})[name] = pred
    report.update(
        checkpoint=str(checkpoint),
        corpus_path=str(data_cfg["corpus_path"]),
        split=split,
        precision=precision,
        baselines=baselines,
        by_length=scores_by_length([r["predicted"] for r in report["per_document"]], gold),
        errors=frequent_errors(report["per_document"]),
    )
    return report


def report_inputs(checkpoint: str | Path, corpus_path: str | Path | None) -> list[tuple[str, str | Path]]:
    """What the report directory must not hold: it is replaced as a whole."""
    return [("the checkpoint", checkpoint)] + ([("the corpus", corpus_path)] if corpus_path else [])


def write_report(report: dict, output_dir: str | Path) -> Path:
    """``report.json``, ``report.md``, ``scores_by_length.png``; ``report.md`` links the training run's
    ``learning_curve.png`` (kpt-train draws it in the run directory) where there is one.

    ``output_dir`` is replaced as a whole, so no file of an earlier report outlives it; it must be
    new, empty or an earlier report (see :func:`keyphrase_tagger.outputs.replace_directory`).
    """
    run_dir = Path(report["checkpoint"]).parent

    def write(tmp: Path) -> None:
        plots = [SCORES_BY_LENGTH_PNG]
        plot_scores_by_length(report, tmp / SCORES_BY_LENGTH_PNG)
        if (run_dir / LEARNING_CURVE_PNG).is_file():
            plots.append(os.path.relpath(run_dir / LEARNING_CURVE_PNG, Path(output_dir).absolute()))
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "report.md").write_text(markdown_report(report, plots), encoding="utf-8")

    return replace_directory(output_dir, EVALUATION_REPORT, write, key="output_dir",
                             inputs=report_inputs(report["checkpoint"], report["corpus_path"]))


def headline(report: dict) -> str:
    rows = [("model", report["phrase"]["micro"])] + [(k, v["phrase"]["micro"]) for k, v in report["baselines"].items()]
    lines = [f"{name:>22}: phrase micro P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}"
             for name, s in rows]
    lines.append(f"{'model (entity, strict)':>22}: P {report['entity']['precision']:.4f}  "
                 f"R {report['entity']['recall']:.4f}  F1 {report['entity']['f1']:.4f}")
    return "\n".join(lines)


def evaluate(cfg: DictConfig) -> dict:
    validate_evaluate_config(cfg)
    quiet_libraries(bool(cfg.get("verbose", False)))
    if not cfg.get("checkpoint"):
        raise ConfigError("checkpoint=DIR is required (a run's model/ directory)")
    corpus = OmegaConf.select(cfg, "data.corpus_path")
    output_dir = cfg.get("output_dir") or Path(cfg.checkpoint).resolve().parent / f"evaluation_{cfg.split}"
    # Before the model runs: a directory that cannot take the report fails the command at once.
    check_replaceable_directory(output_dir, EVALUATION_REPORT, "output_dir", report_inputs(cfg.checkpoint, corpus))
    report = build_report(cfg.checkpoint, cfg.split, corpus, cfg.device, int(cfg.batch_size),
                          on_missing_phrase=OmegaConf.select(cfg, "data.on_missing_phrase"), precision=cfg.precision,
                          chunk_chars=cfg.chunk_chars, streams=cfg.streams)
    out = write_report(report, output_dir)
    print(f"{report['n_documents']} documents, split {report['split']} of {report['corpus_path']}")
    print(headline(report))
    print(f"report: {out / 'report.md'}")
    return report
