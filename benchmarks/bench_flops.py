"""Achieved FLOP/s of training and inference, as a fraction of this machine's practical matmul peak.

Model FLOPs are counted from the checkpoint's config, per window of ``n`` positions
(characters + [CLS] + [SEP]), with ``L`` layers, hidden size ``h``, intermediate size ``f`` and
``c`` labels (a multiply-add is 2 FLOPs):

    forward = n * (L * (8*h*h + 4*h*f) + 2*h*c)    # Q, K, V, output projections; FFN; classifier
            + L * 4 * h * n * n                    # attention scores and weighted sum
    training step = 3 * forward                    # backward costs twice the forward

Embedding lookups, layer norms, softmax, GELU and the optimizer are not counted: they are the
overhead that keeps a model below the matmul peak. Padding is not counted either (it is work the
hardware does but nobody asked for).

The peak is measured in the same process, interleaved with the model timings so that other load
on the machine hits both alike: ``torch.matmul`` of the model's largest matmul shape at that batch,
``(tokens, h) @ (h, f)`` ("comparable shape"). A large square matmul (``--square``) is timed too,
for reference. Fractions are medians of per-repeat ratios.

Rows:
- ``inference: model forward, batch B``: the model alone on ``B`` full windows,
  ``torch.inference_mode``, for each ``--forward-batch-sizes`` (bigger is not always faster on a
  CPU: past a few windows the activations stop fitting in cache);
- ``inference: extract_many``: ``KeyphraseExtractor.extract_many`` on the corpus, end to end
  (encoding, windows, forward passes, merging, decoding), FLOPs of the windows it runs;
- ``training step``: forward with labels, backward, gradient clipping and an AdamW step (what the
  Trainer does per step), on real corpus windows of the training batch size, in train mode
  (``token_type_ids`` left at 0: lexicon features change no FLOPs).

    python benchmarks/bench_flops.py [--checkpoint DIR] [--threads N] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import common

TARGET_FRACTION = 0.5


def forward_flops(config, n: int) -> float:
    """Model FLOPs of one forward pass over a window of ``n`` positions (formula in the docstring)."""
    h, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return n * (layers * (8 * h * h + 4 * h * f) + 2 * h * config.num_labels) + layers * 4 * h * n * n


def time_loop(fn, iterations: int) -> float:
    t0 = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - t0) / iterations


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="a run's model/ directory (default: newest outputs/default/*/model)")
    parser.add_argument("--corpus", default=str(common.DEFAULT_CORPUS))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="extract_many windows per forward pass (kpt-predict's default)")
    parser.add_argument("--forward-batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--train-batch-size", type=int, default=16, help="as configs/trainer/cpu.yaml")
    parser.add_argument("--train-steps", type=int, default=5, help="training steps per repeat")
    parser.add_argument("--square", type=int, default=2048, help="side of the reference square matmul")
    parser.add_argument("--label", default=None, help="results go to <name>-<label>.json (keeps runs apart)")
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)

    checkpoint = common.resolve_checkpoint(args.checkpoint)
    import torch
    from transformers import (
        AutoModelForTokenClassification,
        DataCollatorForTokenClassification,
    )

    from keyphrase_tagger.data.prepare import prepare_corpus
    from keyphrase_tagger.inference.extractor import KeyphraseExtractor
    from keyphrase_tagger.tagger.inputs import window_rows
    from keyphrase_tagger.tagger.windows import window_bounds

    if args.threads:
        torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()[0]
    torch.manual_seed(0)
    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu", batch_size=args.batch_size)
    config = extractor.model.config
    max_chars, stride = extractor.settings.max_chars, extractor.settings.stride
    h, f = config.hidden_size, config.intermediate_size

    prepared = prepare_corpus({**extractor.settings.data, "corpus_path": args.corpus})
    docs = prepared.documents
    texts = [d.document.text for d in docs]

    # Inference, model alone: batches of full windows.
    width = max_chars + 2
    forward_inputs = {b: torch.randint(5, config.vocab_size, (b, width)) for b in args.forward_batch_sizes}

    # extract_many over the corpus: the FLOPs of every window it runs.
    corpus_flops = sum(forward_flops(config, e - s + 2) for t in texts for s, e in window_bounds(len(t), max_chars, stride))

    # Training: real windows with labels, the Trainer's collator, AdamW on a fresh copy of the model.
    train_model = AutoModelForTokenClassification.from_pretrained(str(checkpoint)).train()
    rows = window_rows(texts, extractor.encoder, max_chars, stride, [d.tags for d in docs])
    features = [{"input_ids": i, "attention_mask": m, "labels": y}
                for i, m, y in zip(rows["input_ids"], rows["attention_mask"], rows["labels"])]
    collator = DataCollatorForTokenClassification(extractor.tokenizer, pad_to_multiple_of=8, return_tensors="pt")
    order = torch.randperm(len(features)).tolist()
    batches = [collator([features[j] for j in order[k : k + args.train_batch_size]])
               for k in range(0, len(order) - args.train_batch_size + 1, args.train_batch_size)]
    batch_flops = [3 * sum(forward_flops(config, int(n)) for n in b["attention_mask"].sum(dim=1)) for b in batches]
    optimizer = torch.optim.AdamW(train_model.parameters(), lr=5e-4, weight_decay=0.01)
    step_no = [0]

    def train_step() -> None:
        batch = batches[step_no[0] % len(batches)]
        step_no[0] += 1
        loss = train_model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(train_model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def run_train(steps: int) -> tuple[float, float]:
        first = step_no[0]
        t0 = time.perf_counter()
        for _ in range(steps):
            train_step()
        seconds = time.perf_counter() - t0
        done = sum(batch_flops[k % len(batches)] for k in range(first, first + steps))
        return seconds, done

    # The comparable matmul for each batch: the model's largest, (tokens, h) @ (h, f).
    shapes = {b: b * width for b in {*args.forward_batch_sizes, args.batch_size, args.train_batch_size}}
    operands = {b: (torch.randn(tokens, h), torch.randn(h, f)) for b, tokens in shapes.items()}
    sq_a, sq_b = torch.randn(args.square, args.square), torch.randn(args.square, args.square)

    def matmul_rate(a, b, iterations: int) -> float:
        return 2 * a.shape[0] * a.shape[1] * b.shape[1] / time_loop(lambda: torch.matmul(a, b), iterations)

    @torch.inference_mode()
    def forward(ids) -> None:
        extractor.model(input_ids=ids, attention_mask=torch.ones_like(ids))

    # Warm-up: allocator, kernels, the character cache, the optimizer state.
    for ids in forward_inputs.values():
        forward(ids)
    extractor.extract_many(texts)
    run_train(2)
    for a, b in [*operands.values(), (sq_a, sq_b)]:
        matmul_rate(a, b, 3)

    samples: dict[str, list[float]] = {"peak_square": [], "extract": [], "train": []}
    for _ in range(args.repeats):
        for b, (x, w) in operands.items():
            samples.setdefault(f"peak_{b}", []).append(matmul_rate(x, w, max(3, 2560 // b)))
        for b, ids in forward_inputs.items():
            flops = b * forward_flops(config, width)
            samples.setdefault(f"forward_{b}", []).append(flops / time_loop(lambda: forward(ids), max(2, 64 // b)))
        t0 = time.perf_counter()
        extractor.extract_many(texts)
        samples["extract"].append(corpus_flops / (time.perf_counter() - t0))
        seconds, done = run_train(args.train_steps)
        samples["train"].append(done / seconds)
        samples["peak_square"].append(matmul_rate(sq_a, sq_b, 3))

    def row(name: str, key: str, peak_key: str) -> dict:
        fractions = [x / p for x, p in zip(samples[key], samples[peak_key])]
        square = [x / p for x, p in zip(samples[key], samples["peak_square"])]
        return {
            "name": name,
            "gflops_per_s": statistics.median(samples[key]) / 1e9,
            "gflops_per_s_all": [x / 1e9 for x in samples[key]],
            "peak_gflops_per_s": statistics.median(samples[peak_key]) / 1e9,
            "fraction_of_peak": statistics.median(fractions),
            "fraction_spread": [min(fractions), max(fractions)],
            "fraction_of_square_peak": statistics.median(square),
        }

    results = [row(f"inference: model forward, batch {b} x {width}", f"forward_{b}", f"peak_{b}")
               for b in args.forward_batch_sizes]
    results.append(row(f"inference: extract_many (corpus), batch {args.batch_size}", "extract", f"peak_{args.batch_size}"))
    results.append(row(f"training step, batch {args.train_batch_size}, AdamW", "train", f"peak_{args.train_batch_size}"))
    info = common.machine()
    print(f"Achieved FLOP/s, checkpoint {checkpoint} ({common.machine_line(info)}); "
          f"h={h}, f={f}, layers={config.num_hidden_layers}, {sum(p.numel() for p in extractor.model.parameters()) / 1e6:.2f}M params; "
          f"medians of {args.repeats} repeats; load average {load_at_start:.1f} at start")
    square_peak = statistics.median(samples["peak_square"]) / 1e9
    common.print_table(
        ["workload", "model GFLOP/s", "matmul peak GFLOP/s (comparable shape)", "fraction of peak (min-max)",
         f"fraction of {args.square}^2 matmul ({square_peak:.1f} GFLOP/s)"],
        [[r["name"], f"{r['gflops_per_s']:.1f}", f"{r['peak_gflops_per_s']:.1f}",
          f"{r['fraction_of_peak']:.0%} ({r['fraction_spread'][0]:.0%}-{r['fraction_spread'][1]:.0%})",
          f"{r['fraction_of_square_peak']:.0%}"] for r in results],
    )
    checked = {"inference (extract_many)": results[-2]["fraction_of_peak"], "training": results[-1]["fraction_of_peak"]}
    verdict = ", ".join(f"{k} {v:.0%} {'met' if v >= TARGET_FRACTION else 'NOT met'}" for k, v in checked.items())
    print(f"target: >= {TARGET_FRACTION:.0%} of the comparable-shape matmul peak: {verdict}")
    path = common.write_result("flops", {
        "checkpoint": str(checkpoint),
        "model": {"hidden_size": h, "intermediate_size": f, "num_hidden_layers": config.num_hidden_layers,
                  "num_attention_heads": config.num_attention_heads, "window_positions": width},
        "repeats": args.repeats,
        "load_average_at_start": load_at_start,
        "matmul_shapes": {**{f"batch {b}": [tokens, h, f] for b, tokens in shapes.items()},
                          "square": [args.square] * 3},
        "square_peak_gflops_per_s": square_peak,
        "target_fraction": TARGET_FRACTION,
        "target_met": {k: v >= TARGET_FRACTION for k, v in checked.items()},
        "results": results,
        "samples": {k: [x / 1e9 for x in v] for k, v in samples.items()},
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
