"""The jobs of a ``kpt-train -m`` sweep -> mean ± std of their test reports, and what the jobs are.

A ``data.split.kfold=K data.split.fold=0,...`` sweep is a K-fold cross-validation: the report names
the folds present and missing. Jobs that share one test split (``seed=1,2,3``) are a seed sweep and
are called that, not folds. Each job's split comes from its checkpoint (``keyphrase_tagger.json``).
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from pathlib import Path

from keyphrase_tagger.checkpoint import SETTINGS_FILE
from keyphrase_tagger.errors import ConfigError, CorpusFormatError
from keyphrase_tagger.evaluation.analysis import scores_by_word_alignment
from keyphrase_tagger.evaluation.evaluate import build_report, write_report
from keyphrase_tagger.evaluation.metrics import prf

log = logging.getLogger(__name__)


def fold_reports(sweep_dir: str | Path, device: str = "auto") -> list[tuple[Path, dict]]:
    """Each job's test report: ``evaluation_test/report.json``, evaluated now if missing.

    A job is a subdirectory holding ``model/config.json``, whatever its name (``seed=1``,
    ``data.split.fold=0,data.split.kfold=5``, or ``0`` from sweeps named by job number); jobs come in
    fold order, then in name order with numbers compared as numbers.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ConfigError(f"{sweep_dir}: sweep directory not found")
    jobs = sorted((p.parent.parent for p in sweep_dir.glob("*/model/config.json")), key=_job_order)
    if not jobs:
        raise ConfigError(f"{sweep_dir}: no trained job (*/model/config.json) in the sweep directory")
    reports = []
    for job in jobs:
        path = job / "evaluation_test" / "report.json"
        if not path.is_file():
            log.info("evaluating %s on its test split", job)
            write_report(build_report(job / "model", "test", device=device), path.parent)
        reports.append((job, json.loads(path.read_text(encoding="utf-8"))))
    return reports


def job_data_settings(job: Path) -> dict | None:
    """The ``data`` settings a job's checkpoint was trained with (``None`` if it does not say)."""
    try:
        data = json.loads((Path(job) / "model" / SETTINGS_FILE).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("split"), dict) else None


def split_identity(data: dict | None) -> dict | None:
    """What fixes a job's test split: its corpus and ``data.split`` settings. ``fold`` counts only
    under K-fold, where it picks the test split; without K-fold it has no effect."""
    if data is None:
        return None
    split = dict(data["split"])
    if not split.get("kfold"):
        split.pop("fold", None)
    return {"corpus_path": data.get("corpus_path"), **split}


def _job_order(job: Path) -> tuple:
    split = split_identity(job_data_settings(job)) or {}
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", job.name)]
    return (split.get("fold") if split.get("kfold") else -1, natural)


def sweep_design(data_settings: list[dict | None]) -> dict:
    """What the jobs are, from the ``data`` settings of their checkpoints: ``kind`` ``kfold`` (with
    ``k``, ``folds_present``, ``folds_missing``), ``one_split`` (a seed sweep), ``mixed`` or
    ``unknown``; ``text`` says it."""
    splits = [split_identity(d) for d in data_settings]
    n = len(splits)
    runs = f"{n} run{'s' if n != 1 else ''}"
    if any(s is None for s in splits):
        return {"kind": "unknown", "text": f"{runs} (a job's checkpoint does not record its test split)"}
    without_fold = {json.dumps({k: v for k, v in s.items() if k != "fold"}, sort_keys=True) for s in splits}
    distinct = {json.dumps(s, sort_keys=True) for s in splits}
    if len(distinct) == 1:
        where = f" (fold {splits[0]['fold']} of {splits[0]['kfold']})" if splits[0].get("kfold") else ""
        return {"kind": "one_split", "text": f"seed sweep: {runs} on one test split{where}, not cross-validation folds"}
    if len(without_fold) > 1 or not splits[0].get("kfold"):
        return {"kind": "mixed",
                "text": f"{runs} on {len(distinct)} different test splits (corpus or split settings differ): "
                        "not one cross-validation"}
    k = int(splits[0]["kfold"])
    folds = [int(s["fold"]) for s in splits]
    present = sorted(set(folds))
    missing = [f for f in range(k) if f not in present]
    text = f"{k}-fold cross-validation: {len(present)} of {k} folds present ({', '.join(map(str, present))})"
    if missing:
        text += f"; missing {', '.join(map(str, missing))}"
    repeated = [f for f in present if folds.count(f) > 1]
    if repeated:
        text += f"; several runs of fold {', '.join(map(str, repeated))} ({runs} in all)"
    return {"kind": "kfold", "k": k, "folds_present": present, "folds_missing": missing, "text": text}


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def aggregate(reports: list[tuple[Path, dict]], design: dict | None = None) -> dict:
    """Mean ± std (sample std over the jobs) of the headline scores, model and baselines; each
    statistic keeps the jobs' ``values`` in job order."""
    if not reports:
        raise ConfigError("no job report to aggregate")
    systems = {"model": lambda r: r["phrase"]}
    for name in reports[0][1]["baselines"]:
        systems[name] = lambda r, n=name: r["baselines"][n]["phrase"]
    out: dict = {"n_runs": len(reports), "jobs": [str(job) for job, _ in reports],
                 "design": design or sweep_design([None] * len(reports)), "systems": {}}
    for name, get in systems.items():
        out["systems"][name] = {
            "phrase_micro_f1": _mean_std([get(r)["micro"]["f1"] for _, r in reports]),
            "phrase_micro_precision": _mean_std([get(r)["micro"]["precision"] for _, r in reports]),
            "phrase_micro_recall": _mean_std([get(r)["micro"]["recall"] for _, r in reports]),
            "phrase_macro_f1": _mean_std([get(r)["macro"]["f1"] for _, r in reports]),
        }
    out["systems"]["model"]["entity_f1"] = _mean_std([r["entity"]["f1"] for _, r in reports])
    return out


def pooled_analysis(reports: list[tuple[Path, dict]]) -> dict:
    """The model's phrase scores by length and by word alignment (``analysis.py``), pooled over the
    jobs' test documents (counts summed, then P/R/F1). Word alignment needs the documents' texts:
    it is left out (with a log line) when a report's corpus file cannot be read."""
    from keyphrase_tagger.data.corpus import read_corpus

    by_length: dict[str, list[int]] = {}
    for _, report in reports:
        for row in report.get("by_length", []):
            c = by_length.setdefault(row["length"], [0, 0, 0])
            c[0], c[1], c[2] = c[0] + row["tp"], c[1] + row["n_pred"], c[2] + row["n_gold"]
    pooled: dict = {"by_length": [{"length": k, **prf(*c)} for k, c in by_length.items()]}
    texts, predicted, gold = [], [], []
    for job, report in reports:
        try:
            corpus = {doc.doc_id: doc.text for doc in read_corpus(report["corpus_path"])}
            texts += [corpus[row["doc_id"]] for row in report["per_document"]]
        except (CorpusFormatError, OSError, KeyError) as error:  # KeyError: no such key, or not this corpus
            log.warning("%s: no scores by word alignment (corpus not read: %s)", job, error)
            return pooled
        predicted += [row["predicted"] for row in report["per_document"]]
        gold += [row["gold"] for row in report["per_document"]]
    pooled["by_word_alignment"] = scores_by_word_alignment(texts, predicted, gold)
    return pooled


def _pooled_tables(pooled: dict) -> list[str]:
    lines = []
    for key, column, title in (("by_length", "length", "phrase length (characters)"),
                               ("by_word_alignment", "kind", "how the phrase sits on jieba's words")):
        if pooled.get(key):
            lines += ["", f"The model's phrase scores by {title}, pooled over the test documents:", "",
                      f"| {column} | P | R | F1 | true positives | predicted | gold |", "|---|---|---|---|---|---|---|"]
            lines += [f"| {r[column]} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['tp']} | "
                      f"{r['n_pred']} | {r['n_gold']} |" for r in pooled[key]]
    return lines


def markdown_cv(summary: dict) -> str:
    """What the jobs are, the mean ± std table, and every job's own scores."""
    design = summary["design"]
    over = "folds'" if design["kind"] == "kfold" else "runs'"
    lines = [f"# {design['text'][0].upper()}{design['text'][1:]}", "",
             f"Mean ± sample standard deviation over the {summary['n_runs']} {over} test reports.", "",
             "| system | phrase micro F1 | micro P | micro R | macro F1 | entity F1 |", "|---|---|---|---|---|---|"]
    for name, s in summary["systems"].items():
        cell = lambda k: f"{s[k]['mean']:.4f} ± {s[k]['std']:.4f}" if k in s else "–"  # noqa: E731
        lines.append(f"| {name} | {cell('phrase_micro_f1')} | {cell('phrase_micro_precision')} | "
                     f"{cell('phrase_micro_recall')} | {cell('phrase_macro_f1')} | {cell('entity_f1')} |")
    names = list(summary["systems"])
    lines += ["", f"Phrase micro F1 of each {'fold' if design['kind'] == 'kfold' else 'run'} on its test split "
              "(entity F1: the model's):", "",
              "| job | " + " | ".join(names) + " | entity F1 |", "|---|" + "---|" * (len(names) + 1)]
    for i, job in enumerate(summary["jobs"]):
        cells = [f"{summary['systems'][n]['phrase_micro_f1']['values'][i]:.4f}" for n in names]
        cells.append(f"{summary['systems']['model']['entity_f1']['values'][i]:.4f}")
        lines.append(f"| {Path(job).name} | " + " | ".join(cells) + " |")
    lines += _pooled_tables(summary.get("pooled", {}))
    return "\n".join(lines) + "\n"


def cv_report(sweep_dir: str | Path, device: str = "auto") -> dict:
    """Aggregate the sweep's jobs and write ``cv_report.json`` and ``cv_report.md`` into it."""
    reports = fold_reports(sweep_dir, device)
    summary = aggregate(reports, sweep_design([job_data_settings(job) for job, _ in reports]))
    summary["pooled"] = pooled_analysis(reports)
    sweep_dir = Path(sweep_dir)
    (sweep_dir / "cv_report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (sweep_dir / "cv_report.md").write_text(markdown_cv(summary), encoding="utf-8")
    return summary
