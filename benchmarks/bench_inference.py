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
import time

import common
import numpy as np

from keyphrase_tagger.decision.decoder import decode_phrases

TARGET_RATIO = 5.0


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


def tags_from_groups(length: int, groups: list[dict]) -> np.ndarray:
    from keyphrase_tagger.records import B, I, O

    tags = np.full(length, O, dtype=np.int8)
    for g in groups:
        tags[int(g["start"])] = B
        tags[int(g["start"]) + 1 : int(g["end"])] = I
    return tags


def tags_from_probs(probs: np.ndarray) -> np.ndarray:
    """Argmax tags, an orphan I (after O) read as B: the pipeline's grouping rule, written out here
    independently of ``data.labeling.tags_to_spans`` so that the comparison also checks the decoder."""
    from keyphrase_tagger.records import B, I, O

    tags = probs.argmax(axis=-1).astype(np.int8)
    prev = np.concatenate([[O], tags[:-1]])
    tags[(tags == I) & (prev == O)] = B
    return tags


def raw_spans(tags: np.ndarray) -> list[tuple[int, int]]:
    """B starts a span, the I that follow extend it (tags already have no orphan I)."""
    from keyphrase_tagger.records import B, I

    starts = np.flatnonzero(tags == B).tolist()
    spans = []
    for s in starts:
        e = s + 1
        while e < len(tags) and tags[e] == I:
            e += 1
        spans.append((s, e))
    return spans


def clean(text: str, spans, cleaning) -> dict[tuple[int, int], tuple[int, int]]:
    """Cleaned span -> the untrimmed span it came from, for spans the cleaning keeps."""
    from keyphrase_tagger.data.cleaning import reject_reason, strip_span

    out = {}
    for s, e in spans:
        cs, ce = strip_span(text, s, e, cleaning.strip_chars)
        if reject_reason(text[cs:ce], cleaning) is None:
            out[(cs, ce)] = (s, e)
    return out


def agreement(texts, phrases, probs, outputs, cleaning) -> dict:
    """Tag and span agreement between one extractor and the pipeline (see the module docstring)."""
    chars = same_chars = 0
    n_ours = n_theirs = same = 0
    st = {"ours": 0, "theirs": 0, "same": 0}
    for text, doc_phrases, p, groups in zip(texts, phrases, probs, outputs):
        ours_tags, their_tags = tags_from_probs(p), tags_from_groups(len(text), groups)
        equal = ours_tags == their_tags
        chars, same_chars = chars + len(text), same_chars + int(equal.sum())
        ours = {(ph.start, ph.end) for ph in doc_phrases}
        theirs = clean(text, ((int(g["start"]), int(g["end"])) for g in groups), cleaning)
        ours_raw = clean(text, raw_spans(ours_tags), cleaning)

        def same_tags(raw: tuple[int, int] | None) -> bool:
            return raw is not None and bool(equal[max(0, raw[0] - 1) : raw[1] + 1].all())

        n_ours, n_theirs, same = n_ours + len(ours), n_theirs + len(theirs), same + len(ours & set(theirs))
        # An extractor span with no untrimmed span under its tags counts as decoded on the same tags:
        # then it can only be a decoder error, and it must show up as a disagreement.
        ours_st = {s for s in ours if ours_raw.get(s) is None or same_tags(ours_raw[s])}
        theirs_st = {s for s, raw in theirs.items() if same_tags(raw)}
        st["ours"], st["theirs"] = st["ours"] + len(ours_st), st["theirs"] + len(theirs_st)
        st["same"] += len(ours_st & theirs_st)
    jaccard = lambda x, y, z: z / (x + y - z) if x + y - z else 1.0  # noqa: E731
    return {
        "tag_agreement": same_chars / chars if chars else 1.0,
        "extractor_spans": n_ours,
        "pipeline_spans": n_theirs,
        "identical_spans": same,
        "span_agreement": jaccard(n_ours, n_theirs, same),
        "where_tags_agree": {**st, "span_agreement": jaccard(st["ours"], st["theirs"], st["same"])},
    }


def phrase_agreement(reference: list, other: list) -> float:
    """Fraction of the phrases (document, start, end) of either that both return: 1.0 when identical."""
    a = {(d, p.start, p.end) for d, phrases in enumerate(reference) for p in phrases}
    b = {(d, p.start, p.end) for d, phrases in enumerate(other) for p in phrases}
    return len(a & b) / max(1, len(a | b))


def stage_times(extractor, texts: list[str], repeats: int) -> dict:
    """Median seconds of the model's pass (``predict_probs``: windows, forward, merging) and of the
    checkpoint's decision (candidates, features, rescorer) over ``texts``, and their ratio."""
    forward, decision = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        probs = extractor.predict_probs(texts)
        forward.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for text, p in zip(texts, probs):
            extractor.decision.decide(text, p)
        decision.append(time.perf_counter() - t0)
    f, d = common.summary(forward)["median_s"], common.summary(decision)["median_s"]
    return {"forward_s": f, "decision_s": d, "decision_over_forward": d / f, "decision": extractor.decision.describe()}


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
                             "the smallest batch size; their phrases are compared with fp32's")
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
    for precision in args.precisions:
        bs = min(args.batch_sizes)
        extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu", batch_size=bs, precision=precision)
        methods.append((f"extract_many, batch {bs}, precision={precision}", extractor))
    pipe = make_pipeline(methods[0][1])
    plain = plain_text_aligns(methods[0][1], texts)
    workloads = [("corpus", texts), ("long document", ["".join(texts)])]
    results = [bench_workload(name, docs, methods, pipe, plain, args.repeats) for name, docs in workloads]
    stages = stage_times(methods[0][1], texts, args.repeats)

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
    print(f"corpus, {methods[0][0]}: model pass {stages['forward_s']:.2f} s, decision {stages['decision_s']:.2f} s "
          f"({stages['decision_over_forward']:.2f} of the model pass; {stages['decision']})")
    verdicts = {}
    for label, _ in methods:
        worst = min(m["speedup"] for r in results for m in r["methods"] if m["method"] == label)
        exact = all(m["agreement"]["where_tags_agree"]["span_agreement"] == 1.0
                    for r in results for m in r["methods"] if m["method"] == label)
        verdicts[label] = {"worst_speedup": worst, "met": worst >= TARGET_RATIO, "same_spans_where_tags_agree": exact}
        print(f"target >= {TARGET_RATIO:g}x the pipeline, {label}: {'met' if worst >= TARGET_RATIO else 'NOT met'} "
              f"(worst {worst:.1f}x); same spans where tags agree: {'yes' if exact else 'NO'}")
    path = common.write_result("inference", {
        "checkpoint": str(checkpoint),
        "corpus": str(args.corpus),
        "repeats": args.repeats,
        "load_average_at_start": load_at_start,
        "pipeline_input": "text" if plain else "characters",
        "window": {"max_chars": methods[0][1].settings.max_chars, "stride": methods[0][1].settings.stride},
        "target_ratio": TARGET_RATIO,
        "targets": verdicts,
        "stages": stages,
        "results": results,
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
