"""Inference speed: ``KeyphraseExtractor.extract_many`` against transformers' token-classification pipeline.

Both run the same checkpoint on the same documents, in one process with the same torch thread
count, and see the same windows: the pipeline gets ``stride=<checkpoint stride>`` and a tokenizer
whose ``model_max_length`` is the checkpoint's ``max_chars + 2``, which is exactly how
``windows.window_bounds`` cuts a document. The pipeline runs as a user would call it
(``aggregation_strategy="simple"``, its default batch size of 1).

How text reaches the pipeline, so that spans are comparable: the model was trained with one
token per character (``encoding.CharEncoder``). If the tokenizer, run on a document as plain text,
yields exactly one token per character with the ids ``CharEncoder`` gives (true for the embedded
corpus: CJK characters and punctuation are each split off), the pipeline gets the plain strings,
and its offsets are character offsets of the document already. Otherwise (runs of Latin letters,
which WordPiece would merge into one token) every document is passed pre-split into characters
(``is_split_into_words=True, delimiter=""``): the tokenizer then gives one token per character and
the pipeline maps each token's offsets back through its word -> character map.

The extractors run in their default streams (``streams=None``: 2 on a CPU with 2 or more torch
threads; ``tagger/streams.py``); one more row runs fp32 in one stream, as before streams existed
in the API, the model on all of torch's threads.

Workloads: the corpus (its documents in one call) and one long document (the corpus texts
joined). Warm-up, untimed: one full ``extract_many`` pass per extractor (this also fills the
character cache), and the pipeline on two documents. Then ``--repeats`` timed passes, methods
interleaved so that load from other processes hits all of them alike; medians, with the spread.

Agreement, between each extractor and the pipeline:
- tags: per character, B/I/O, with the pipeline's tags read off its entity groups (B at a group's
  start, I inside) and the extractor's the argmax of ``predict_probs`` with an orphan I read as
  the start of a span (the pipeline's grouping, and conlleval's reading). They differ where the
  extractor adjusts probabilities the pipeline cannot (lexicon features in ``token_type_ids``,
  the checkpoint's O prior and gazetteer fusion), and where windows overlap: the extractor keeps
  each character's prediction from the window where it sits farthest from an edge, the pipeline
  keeps whichever overlapping entity is longest;
- spans: the extractor's tags decoded by ``decode_phrases`` (``extract_many``'s phrases, except
  for a checkpoint whose rescorer nests phrases: those beyond what its tags hold are counted as
  ``beyond_tags``) against the pipeline's entity groups trimmed and filtered by
  the checkpoint's cleaning (``strip_span``/``reject_reason``, as ``decode_phrases`` applies it),
  by exact ``(start, end)``; overall, and for the spans where both decode the same tags (every
  character from the one before the span's untrimmed start to the one after its end has the same
  tag in both). The second must be 1: same tags, same spans.

    python benchmarks/bench_inference.py [--checkpoint DIR] [--threads N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import common
from agreement import agreement, phrase_agreement

from keyphrase_tagger.decision.decoder import decode_phrases

# The targets reported (never asserted): fp32 extract_many against the pipeline, a reduced-precision
# mode against the pipeline (with its phrases as fp32's), extract_many against a bare forward pass
# of the same batches, and the decision's time against the model pass.
TARGETS = {"fp32_vs_pipeline": 3.0, "reduced_vs_pipeline": 5.0, "phrases_as_fp32": 0.99,
           "extract_over_bare_forward": 1.15, "decision_over_forward": 0.15}


def make_pipeline(extractor):
    from transformers import pipeline

    settings = extractor.settings
    extractor.tokenizer.model_max_length = settings.max_chars + 2  # the pipeline's window: max_chars + [CLS]/[SEP]
    return pipeline("token-classification", model=extractor.model, tokenizer=extractor.tokenizer,
                    aggregation_strategy="simple", stride=settings.stride, device="cpu")


def plain_text_aligns(extractor, texts: list[str]) -> bool:
    """Does the tokenizer give each document one token per character, with ``CharEncoder``'s ids?"""
    for text in texts:
        enc = extractor.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        if len(enc["input_ids"]) != len(text) or enc["input_ids"] != extractor.encoder.encode(text).tolist():
            return False
        if any(tuple(o) != (i, i + 1) for i, o in enumerate(enc["offset_mapping"])):
            return False
    return True


def run_pipeline(pipe, texts: list[str], plain: bool) -> list[list[dict]]:
    if plain:
        return pipe(texts)
    return pipe([list(t) for t in texts], is_split_into_words=True, delimiter="")


def padded_batches(extractor, texts: list[str]) -> list[dict]:
    """The model inputs ``predict_probs`` builds for ``texts``: the same windows, sorted by length
    and cut into batches of the extractor's batch size, padded, as tensors."""
    from keyphrase_tagger.tagger.inputs import (
        pad_rows,
        plan_windows,
        reads_token_types,
        text_rows,
    )

    settings = extractor.settings
    windows = plan_windows([len(t) for t in texts], settings.max_chars, settings.stride)
    types = [extractor.featurizer.type_ids(t) for t in texts] if extractor.featurizer is not None else None
    rows = text_rows(texts, extractor.encoder, windows, types)
    order = sorted(range(len(windows)), key=lambda i: windows[i].start - windows[i].end)
    token_types = reads_token_types(extractor.model)
    return [pad_rows(rows(order[b : b + extractor.batch_size]), extractor.encoder.pad_id, extractor.device, token_types)
            for b in range(0, len(order), extractor.batch_size)]


def stage_times(extractor, texts: list[str], repeats: int) -> dict:
    """Seconds over ``texts`` of: ``extract_many``; a bare forward pass of the model over the
    same padded batches (built beforehand, untimed: no windowing, merging or decision), as a plain
    loop with torch's threads, and in the extractor's streams (``tagger/streams.py``); the model's
    pass as ``predict_probs`` makes it (windows, forward, merging); the checkpoint's decision
    (candidates, features, rescorer). Medians of each, and the ratios as the median of the ratios
    within a repeat (the five run back to back, so a repeat's ratio sees one load)."""
    import torch

    from keyphrase_tagger.tagger.streams import run_streams, stream_count

    batches = padded_batches(extractor, texts)
    streams = stream_count(extractor.streams, extractor.device.type, torch.get_num_threads(), len(batches))

    def bare_forward(batch) -> None:
        with torch.inference_mode():
            extractor.model(**batch)

    extract, bare, in_streams, forward, decision = [], [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        extractor.extract_many(texts)
        extract.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_streams(batches, bare_forward, 1)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_streams(batches, bare_forward, streams)
        in_streams.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        probs = extractor.predict_probs(texts)
        forward.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for text, p in zip(texts, probs):
            extractor.decision.decide(text, p)
        decision.append(time.perf_counter() - t0)
    x, b, f, d = (common.summary(t)["median_s"] for t in (extract, bare, forward, decision))
    over_bare = [e / n for e, n in zip(extract, bare)]
    over_streams = [e / n for e, n in zip(extract, in_streams)]
    over_forward = [e / n for e, n in zip(decision, forward)]
    return {"extract_many_s": x, "bare_forward_s": b, "forward_s": f, "decision_s": d,
            "streams": streams, "bare_forward_streams_s": common.summary(in_streams)["median_s"],
            "extract_over_bare_forward": statistics.median(over_bare),
            "extract_over_bare_forward_streams": statistics.median(over_streams),
            "extract_over_bare_forward_streams_each": over_streams,
            "decision_over_forward": statistics.median(over_forward),
            "extract_over_bare_forward_each": over_bare, "decision_over_forward_each": over_forward,
            "times_s": {"extract_many": extract, "bare_forward": bare, "bare_forward_streams": in_streams,
                        "forward": forward, "decision": decision},
            "repeats": repeats, "batch_size": extractor.batch_size, "batches": len(batches),
            "decision": extractor.decision.describe()}


def ratio_range(stages: dict, key: str) -> str:
    """The least and greatest of a stage ratio over the repeats."""
    each = stages[key + "_each"]
    return f"{min(each):.2f}-{max(each):.2f}"


def bench_workload(name, texts, methods, pipe, plain, repeats) -> dict:
    chars = sum(len(t) for t in texts)
    for _, extractor in methods:
        extractor.extract_many(texts)
    run_pipeline(pipe, texts[:2] if len(texts) > 1 else [texts[0][:20_000]], plain)
    times = {label: [] for label, _ in methods}
    times["pipeline"] = []
    last = {}
    for _ in range(repeats):
        for label, extractor in methods:
            t0 = time.perf_counter()
            last[label] = extractor.extract_many(texts)
            times[label].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        last["pipeline"] = run_pipeline(pipe, texts, plain)
        times["pipeline"].append(time.perf_counter() - t0)
    pipeline_median = common.summary(times["pipeline"])["median_s"]
    rows = []
    for label, extractor in [*methods, ("pipeline", None)]:
        s = common.summary(times[label])
        row = {"method": label, **s, "chars_per_s": chars / s["median_s"], "spread": common.spread(times[label]),
               "times_s": times[label], "speedup": pipeline_median / s["median_s"]}
        if extractor is not None:
            probs = extractor.predict_probs(texts)
            cleaning = extractor.settings.cleaning
            tagged = [decode_phrases(t, p, cleaning) for t, p in zip(texts, probs)]
            row["agreement"] = agreement(texts, tagged, probs, last["pipeline"], cleaning)
            row["agreement"]["beyond_tags"] = sum(
                len({(p.start, p.end) for p in ours} - {(p.start, p.end) for p in flat})
                for ours, flat in zip(last[label], tagged))
            row["phrases_identical_to_fp32"] = phrase_agreement(last[methods[0][0]], last[label])
        rows.append(row)
    return {"workload": name, "documents": len(texts), "characters": chars, "methods": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="a run's model/ directory (default: newest outputs/default/*/model)")
    parser.add_argument("--corpus", default=str(common.DEFAULT_CORPUS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads for all methods (default: torch's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 8],
                        help="extractor windows per forward pass; 32 is kpt-predict's default")
    parser.add_argument("--precisions", nargs="+", default=["bf16", "int8"],
                        help="reduced-precision extractors to time beside fp32 (from_pretrained(precision=...)), at "
                             "the first batch size (kpt-predict's); their phrases are compared with fp32's at it")
    parser.add_argument("--stage-repeats", type=int, default=9,
                        help="repeats of the stage timings (extract_many, bare forward, model pass, decision): "
                             "their ratio targets are tight, so they get more repeats than the comparisons")
    parser.add_argument("--max-documents", type=int, default=None, help="use only the first N documents")
    parser.add_argument("--label", default=None, help="results go to <name>-<label>.json (keeps runs apart)")
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)

    checkpoint = common.resolve_checkpoint(args.checkpoint)
    import torch
    from transformers.utils import logging as hf_logging

    from keyphrase_tagger.data.corpus import read_corpus
    from keyphrase_tagger.inference.extractor import KeyphraseExtractor

    hf_logging.set_verbosity_error()  # "sequence longer than model_max_length": expected, windows handle it
    if args.threads:
        torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()[0]
    texts = [r.text for r in read_corpus(args.corpus)][: args.max_documents]
    methods = []
    for bs in args.batch_sizes:
        methods.append((f"extract_many, batch {bs}", KeyphraseExtractor.from_pretrained(checkpoint, device="cpu", batch_size=bs)))
    one_stream = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu", batch_size=args.batch_sizes[0], streams=1)
    methods.append((f"extract_many, batch {args.batch_sizes[0]}, streams=1", one_stream))
    for precision in args.precisions:
        bs = args.batch_sizes[0]
        extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu", batch_size=bs, precision=precision)
        methods.append((f"extract_many, batch {bs}, precision={precision}", extractor))
    pipe = make_pipeline(methods[0][1])
    plain = plain_text_aligns(methods[0][1], texts)
    workloads = [("corpus", texts), ("long document", ["".join(texts)])]
    results = [bench_workload(name, docs, methods, pipe, plain, args.repeats) for name, docs in workloads]
    stages = stage_times(methods[0][1], texts, args.stage_repeats)

    info = common.machine()
    print(f"Inference, checkpoint {checkpoint} ({common.machine_line(info)}, {load_at_start:.1f} at start); "
          f"medians of {args.repeats} runs after a warm-up; pipeline input: {'text' if plain else 'characters'}")
    rows = []
    for r in results:
        for m in r["methods"]:
            a = m.get("agreement")
            rows.append([
                r["workload"], r["characters"], m["method"], f"{m['chars_per_s']:,.0f} (±{m['spread']})",
                f"{m['speedup']:.1f}x",
                f"{a['tag_agreement']:.4f}" if a else "",
                f"{a['span_agreement']:.4f} ({a['identical_spans']}/{a['extractor_spans']}|{a['pipeline_spans']})" if a else "",
                f"{a['where_tags_agree']['span_agreement']:.4f} ({a['where_tags_agree']['same']})" if a else "",
                f"{m['phrases_identical_to_fp32']:.4f}" if "phrases_identical_to_fp32" in m else "",
            ])
    common.print_table(
        ["workload", "chars", "method", "chars/s (spread)", "vs pipeline", "tag agreement",
         "span agreement (same/ours|pipeline)", "span agreement where tags agree (same)", "phrases as fp32"],
        rows,
    )
    print(f"corpus, {methods[0][0]}, {args.stage_repeats} repeats: extract_many {stages['extract_many_s']:.2f} s, "
          f"{stages['extract_over_bare_forward']:.2f}x a bare forward over the same batches "
          f"(repeats {ratio_range(stages, 'extract_over_bare_forward')}; bare {stages['bare_forward_s']:.2f} s), "
          f"{stages['extract_over_bare_forward_streams']:.2f}x the same in {stages['streams']} streams (repeats "
          f"{ratio_range(stages, 'extract_over_bare_forward_streams')}; {stages['bare_forward_streams_s']:.2f} s); "
          f"model pass {stages['forward_s']:.2f} s, decision "
          f"{stages['decision_s']:.2f} s ({stages['decision_over_forward']:.2f} of the model pass, repeats "
          f"{ratio_range(stages, 'decision_over_forward')}; {stages['decision']})")
    verdicts = {}
    for label, _ in methods:
        rows_of = [m for r in results for m in r["methods"] if m["method"] == label]
        worst = min(m["speedup"] for m in rows_of)
        agree = min(m["phrases_identical_to_fp32"] for m in rows_of)
        reduced = "precision=" in label
        target = TARGETS["reduced_vs_pipeline" if reduced else "fp32_vs_pipeline"]
        met = worst >= target and (not reduced or agree >= TARGETS["phrases_as_fp32"])
        exact = all(m["agreement"]["where_tags_agree"]["span_agreement"] == 1.0 for m in rows_of)
        verdicts[label] = {"worst_speedup": worst, "target": target, "phrases_as_fp32": agree, "met": met,
                           "same_spans_where_tags_agree": exact}
        print(f"target >= {target:g}x the pipeline{' with >= 99% of phrases as fp32' if reduced else ''}, {label}: "
              f"{'met' if met else 'NOT met'} (worst {worst:.1f}x, phrases as fp32 {agree:.4f}); "
              f"same spans where tags agree: {'yes' if exact else 'NO'}")
    # The bare forward in the extractor's streams has the same target: the decision is measured
    # against the model run as fast as the extractor runs it, not only as a plain loop runs it.
    for key, target in (("extract_over_bare_forward", "extract_over_bare_forward"),
                        ("extract_over_bare_forward_streams", "extract_over_bare_forward"),
                        ("decision_over_forward", "decision_over_forward")):
        verdicts[key] = {"value": stages[key], "target": TARGETS[target], "met": stages[key] <= TARGETS[target]}
        print(f"target {key} <= {TARGETS[target]:g}: {'met' if verdicts[key]['met'] else 'NOT met'} ({stages[key]:.2f})")
    path = common.write_result("inference", {
        "checkpoint": str(checkpoint),
        "corpus": str(args.corpus),
        "repeats": args.repeats,
        "load_average_at_start": load_at_start,
        "pipeline_input": "text" if plain else "characters",
        "window": {"max_chars": methods[0][1].settings.max_chars, "stride": methods[0][1].settings.stride},
        "target_ratios": TARGETS,
        "targets": verdicts,
        "stages": stages,
        "results": results,
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
