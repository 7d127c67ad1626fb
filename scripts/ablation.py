"""K-fold cross-validation of the default recipe and its ablations -> docs/results.md.

    .venv/bin/python scripts/ablation.py                      # every option, 5 folds
    .venv/bin/python scripts/ablation.py --only default no_fusion --threads 2

Each option is a ``kpt-train`` config (the default, or ``experiment=<name>``). An option trains
``kpt-train -m data.split.kfold=K data.split.fold=0,...,K-1 <overrides>`` and is scored by
``kpt-cv-report`` (each fold's test split; the gazetteer baselines come from the same reports).

Options marked ``retune_from`` differ from their base option only in ``decision`` (the config
group that acts after training); so they reuse the base's trained folds and redo what ``kpt-train``
does last with their config: fit the decision on the fold's validation split and save it in the
checkpoint. The script checks that the two configs differ in nothing else.

Everything lands under ``--out`` (``outputs/ablation``); ``--reuse`` keeps a finished option's
cross-validation instead of training it again, so the table can be rebuilt. ``--folds-from
OPTION=DIR`` takes a trained option's folds from an earlier sweep of the same training config and
only re-chooses the decoding (as for ``retune_from``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTES_MARKER = "<!-- notes: kept when scripts/ablation.py rewrites this file -->"


@dataclass(frozen=True)
class Option:
    name: str
    overrides: list[str]
    description: str
    retune_from: str | None = None
    extra: dict = field(default_factory=dict)


OPTIONS = [
    Option("default", [], "recipe: lexicon features in the input; phrase rescorer over jieba word runs, tagger spans "
           "and lexicon matches with document, lexicon, tagger, word and context features (or O prior and gazetteer "
           "fusion, whichever wins on validation)", retune_from="no_rescore"),
    Option("rescore_no_context", ["experiment=rescore_no_context"], "default without the context features (the "
           "words before and after a candidate)", retune_from="no_rescore"),
    Option("rescore_flat", ["experiment=rescore_flat"], "default with phrases decoded from the rescorer's tags "
           "(leftmost-longest: no phrase nested in another)", retune_from="no_rescore"),
    Option("rescore_no_words", ["experiment=rescore_no_words"], "rescore_flat without word runs as candidates and "
           "without word or context features", retune_from="no_rescore"),
    Option("rescore_no_tagger", ["experiment=rescore_no_tagger"], "rescore_flat without the tagger's spans and "
           "confidences (no BERT in the decision)", retune_from="no_rescore"),
    Option("rescore_linear", ["experiment=rescore_linear"], "rescore_flat with a logistic-regression rescorer "
           "instead of the one-hidden-layer network", retune_from="no_rescore"),
    Option("no_rescore", ["experiment=no_rescore"], "default without the phrase rescorer (O prior and fusion tuned)"),
    Option("no_fusion", ["experiment=no_fusion"], "default without the rescorer and gazetteer fusion (O prior still "
           "tuned)", retune_from="no_rescore"),
    Option("no_decoding", ["experiment=no_decoding"], "default decoded by plain argmax (no rescorer, O prior, fusion)",
           retune_from="no_rescore"),
    Option("no_lexicon", ["experiment=no_lexicon"], "default without lexicon input features (decoding tuned)"),
    Option("plain", ["experiment=plain"], "bare tagger: no lexicon features, plain argmax", retune_from="no_lexicon"),
]


def with_extra(option: Option, extra: list[str]) -> Option:
    """``option`` with ``extra`` overrides appended (remembered, so its base gets them too)."""
    if not extra:
        return option
    return dataclasses.replace(option, overrides=[*option.overrides, *extra], extra={"overrides": list(extra)})


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
        return hydra_compose(config_name="train", overrides=overrides)


def check_same_training(option: Option, base: Option) -> None:
    """A retuned option may differ from its base only in ``decision`` (and its name)."""
    from omegaconf import OmegaConf

    a, b = (OmegaConf.to_container(compose(o.overrides), resolve=False) for o in (option, base))
    for cfg in (a, b):
        for key in ("decision", "experiment_name", "output_dir", "run_stamp"):
            cfg.pop(key, None)
    if a != b:
        raise SystemExit(f"{option.name} differs from {base.name} in more than decision: cannot reuse its folds")


def train_folds(option: Option, sweep_dir: Path, folds: int, threads: int | None) -> float:
    cmd = ["nice", str(BIN / "kpt-train"), "-m", f"data.split.kfold={folds}",
           "data.split.fold=" + ",".join(map(str, range(folds))), f"hydra.sweep.dir={sweep_dir}",
           "trainer.disable_tqdm=true", *option.overrides]
    if threads:
        cmd.append(f"threads={threads}")
    print("+", " ".join(cmd), flush=True)
    started = time.time()
    subprocess.run(cmd, check=True, cwd=REPO)
    return time.time() - started


def retune_folds(option: Option, base_dir: Path, sweep_dir: Path) -> None:
    """Copy the base's fold models and choose ``option``'s decoding on each fold's validation split."""
    from omegaconf import OmegaConf

    from keyphrase_tagger.candidates import needs_word_stats
    from keyphrase_tagger.checkpoint import CheckpointSettings
    from keyphrase_tagger.data.dataset import load_prepared
    from keyphrase_tagger.inference.extractor import KeyphraseExtractor
    from keyphrase_tagger.lexicon import Lexicon, build_lexicon
    from keyphrase_tagger.lexicon_features import LexiconFeatureConfig, LexiconFeaturizer, leave_one_out_lexicons
    from keyphrase_tagger.recipe import DecodingSettings, fits_decision, tune_decoding

    config = OmegaConf.to_container(compose(option.overrides).decision, resolve=True)
    for job in sorted(p.parent.parent for p in base_dir.glob("*/model/config.json")):
        target = sweep_dir / job.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(job, target, ignore=shutil.ignore_patterns("checkpoints", "evaluation_*"))
        model_dir = target / "model"
        settings = CheckpointSettings.load(model_dir)
        decoding = DecodingSettings()
        if fits_decision(config):
            prepared = load_prepared(settings.data, write=False)
            validation = [d.document for d in prepared.split("validation")]
            extractor = KeyphraseExtractor.from_pretrained(model_dir, device="cpu")
            probs = extractor.predict_probs([d.text for d in validation], adjust=False)
            training = [d.document for d in prepared.split("train")]
            # As kpt-train builds it (with word statistics where the rescorer reads them).
            rescore = config["kind"] == "rescorer"
            with_words = rescore and needs_word_stats(config["rescore_features"])
            lexicon = build_lexicon(training, with_words=with_words)
            if set(lexicon.listed) != set(Lexicon.load(model_dir).listed):
                raise SystemExit(f"{model_dir}: the saved lexicon is not this fold's training lexicon")
            lexicon.save(model_dir)
            rescore_train = []
            if rescore:
                # As kpt-train does: training documents seen with leave-one-out features and lexicon.
                features = LexiconFeatureConfig.from_dict(settings.lexicon_features)
                for doc, loo in zip(training, leave_one_out_lexicons(lexicon, training)):
                    extractor.featurizer = LexiconFeaturizer(loo, features) if features.enabled else None
                    rescore_train.append((doc, extractor.predict_probs([doc.text], adjust=False)[0], loo))
            decoding, _ = tune_decoding(validation, probs, lexicon, settings.cleaning, config, train=rescore_train)
        dataclasses.replace(settings, decoding=decoding.to_dict()).save(model_dir)


def fold_summary(sweep_dir: Path) -> dict:
    walls, decodings = [], []
    for job in sorted((p.parent.parent for p in sweep_dir.glob("*/model/config.json")), key=lambda j: int(j.name) if j.name.isdigit() else j.name):
        walls.append(json.loads((job / "run_info.json").read_text(encoding="utf-8"))["wall_time_s"])
        decodings.append(json.loads((job / "model" / "keyphrase_tagger.json").read_text(encoding="utf-8")).get("decoding"))
    return {"wall_time_s": walls, "decoding": decodings}


def run_option(option: Option, out: Path, folds: int, threads: int | None, reuse: bool,
               folds_from: dict[str, Path]) -> dict:
    from keyphrase_tagger.evaluation.cross_validation import cv_report

    sweep_dir = out / option.name
    done = sweep_dir / "ablation.json"
    if reuse and done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    shutil.rmtree(sweep_dir, ignore_errors=True)
    sweep_dir.mkdir(parents=True)
    load_before = os.getloadavg()
    if option.retune_from:
        base = with_extra(next(o for o in OPTIONS if o.name == option.retune_from), option.extra.get("overrides", []))
        check_same_training(option, base)
        retune_folds(option, out / base.name, sweep_dir)
        train_wall = None
    elif option.name in folds_from:
        # Trained folds of the same training config from an earlier sweep: only the decoding is redone.
        retune_folds(option, folds_from[option.name], sweep_dir)
        train_wall = None
    else:
        train_wall = train_folds(option, sweep_dir, folds, threads)
    summary = cv_report(sweep_dir, device="cpu")
    result = {"option": dataclasses.asdict(option), "cv": summary, "folds": fold_summary(sweep_dir),
              "sweep_wall_time_s": train_wall, "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    done.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def cell(stats: dict) -> str:
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def markdown(results: list[dict], command: str, folds: int) -> str:
    lines = [
        "# Results: the offline default recipe and its ablations",
        "",
        f"{folds}-fold cross-validation over the documents of the embedded corpus (`data.split.kfold={folds}`: "
        "each fold is the test split once; of the other documents, a tenth is the validation split and "
        "the rest train; with the 40 documents and 5 folds: 8 test, 4 validation, 28 train). "
        "Scores are document-level phrase micro F1 on each fold's test split (mean ± sample std over folds), "
        "computed by `kpt-cv-report`; the gazetteer baselines use the same fold's training lexicon "
        "(calibrated: rate threshold chosen on the fold's validation split). Every decision of the recipe "
        "(best epoch, rescorer threshold, O prior, fusion) is taken on validation splits, never on a test split.",
        "",
        "Generated by:",
        "",
        "```bash",
        command,
        "```",
        "",
        "| option | what it is | model F1 | model P | model R | gazetteer F1 | calibrated gazetteer F1 | "
        "train wall per fold (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["cv"]["systems"]
        opt = r["option"]
        walls = r["folds"]["wall_time_s"]
        wall = f"{statistics.fmean(walls):.0f} (min {min(walls):.0f}, max {max(walls):.0f})"
        if opt["retune_from"]:
            wall += f"; reuses `{opt['retune_from']}`'s folds"
        lines.append(
            f"| `{opt['name']}` | {opt['description']} | {cell(s['model']['phrase_micro_f1'])} | "
            f"{cell(s['model']['phrase_micro_precision'])} | {cell(s['model']['phrase_micro_recall'])} | "
            f"{cell(s['gazetteer']['phrase_micro_f1'])} | {cell(s['calibrated_gazetteer']['phrase_micro_f1'])} | "
            f"{wall} |"
        )
    lines += ["", "Decoding settings chosen on each fold's validation split:", ""]
    for r in results:
        chosen = "; ".join(
            ("phrase rescorer" if (d or {}).get("rescore") else
             ", ".join(f"{k}={v}" for k, v in (d or {}).items() if k != "rescore") or "argmax")
            for d in r["folds"]["decoding"]
        )
        lines.append(f"- `{r['option']['name']}`: {chosen}")
    lines += ["", "Machine load (1/5/15-minute load average of this 2-core machine) while each option ran:", ""]
    for r in results:
        fmt = lambda x: "/".join(f"{v:.1f}" for v in x)  # noqa: E731
        lines.append(f"- `{r['option']['name']}`: before {fmt(r['loadavg_before'])}, after {fmt(r['loadavg_after'])}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[o.name for o in OPTIONS], help="run only these options")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per training run")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "ablation")
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "results.md")
    parser.add_argument("--reuse", action="store_true", help="keep options already cross-validated under --out")
    parser.add_argument("--extra", nargs="+", default=[], help="overrides added to every option (quick trials)")
    parser.add_argument("--folds-from", nargs="+", default=[], metavar="OPTION=DIR",
                        help="take OPTION's trained folds from DIR (an earlier sweep of the same training config) "
                             "and only re-choose its decoding")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    chosen = [with_extra(o, args.extra) for o in OPTIONS if not args.only or o.name in args.only]
    folds_from = {name: Path(path) for name, _, path in (item.partition("=") for item in args.folds_from)}
    # Trained options first: a retuned option copies its base's folds. The table keeps OPTIONS order.
    done = {o.name: run_option(o, args.out, args.folds, args.threads, args.reuse, folds_from)
            for o in sorted(chosen, key=lambda o: o.retune_from is not None)}
    results = [done[o.name] for o in chosen]
    command = " ".join([".venv/bin/python scripts/ablation.py", *(argv if argv is not None else sys.argv[1:])])
    args.results.parent.mkdir(parents=True, exist_ok=True)
    # Hand-written notes below the marker survive a regeneration of the table.
    old = args.results.read_text(encoding="utf-8") if args.results.is_file() else ""
    notes = old[old.index(NOTES_MARKER):] if NOTES_MARKER in old else ""
    args.results.write_text(markdown(results, command, args.folds) + ("\n" + notes if notes else ""), encoding="utf-8")
    print(f"written: {args.results}")


if __name__ == "__main__":
    main()
