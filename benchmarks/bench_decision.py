"""The phrase rescorer's decision over the corpus: where its time goes, and what its float32 screen saves.

The model's probabilities for the corpus texts are computed once, untimed. Then, in each repeat,
over every text (one thread, the decision as ``extract_many`` runs it):

- ``decide``: the checkpoint's whole decision (segmentation, candidates, features, rescorer, spans);
- ``described``: the candidates and their features alone (``described_candidates``);
- ``screened``: the rescorer's probabilities as the decision computes them, the hidden layer over
  every candidate in float32 and again in float64 for those it could accept
  (``Rescorer.screened_probabilities``, ``decision/screening.py``);
- ``float64``: the same probabilities in float64 for every candidate
  (``Rescorer.factored_probabilities``).

The two probability paths are also compared: the candidates each accepts (must be the same), the
largest difference between their probabilities of accepted candidates, and the share of
candidates the screen sends to float64.

    python benchmarks/bench_decision.py [--checkpoint DIR] [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import common


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None,
                        help="a run's model/ directory (default: newest outputs/default/*/model)")
    parser.add_argument("--corpus", default=str(common.DEFAULT_CORPUS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the model's (untimed) pass")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--label", default=None, help="results go to <name>-<label>.json (keeps runs apart)")
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)

    checkpoint = common.resolve_checkpoint(args.checkpoint)
    import numpy as np
    import torch

    from keyphrase_tagger.data.corpus import read_corpus
    from keyphrase_tagger.decision.candidates import described_candidates
    from keyphrase_tagger.decision.rescorer import RescorerDecision
    from keyphrase_tagger.inference.extractor import KeyphraseExtractor

    if args.threads:
        torch.set_num_threads(args.threads)
    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu")
    decision = extractor.decision
    if type(decision) is not RescorerDecision or not decision.rescorer.hidden:
        common.fail(f"{checkpoint}: its decision is {decision.describe()}, not a phrase rescorer with a hidden layer")
    rescorer, lexicon, cleaning = decision.rescorer, decision.lexicon, decision.cleaning
    texts = [r.text for r in read_corpus(args.corpus)]
    probs = extractor.predict_probs(texts)

    def described(text, p):
        return described_candidates(text, p, lexicon, cleaning, rescorer.candidate_o_scale, rescorer.groups,
                                    rescorer.word_limits)

    features = [d[1] for d in map(described, texts, probs) if d is not None]
    timed = {"decide": lambda: [decision.decide(t, p) for t, p in zip(texts, probs)],
             "described": lambda: [described(t, p) for t, p in zip(texts, probs)],
             "screened": lambda: [rescorer.screened_probabilities(f) for f in features],
             "float64": lambda: [rescorer.factored_probabilities(f) for f in features]}
    for fn in timed.values():  # warm-up: the first layers, the lexicon's matcher, the segmenter's dictionary
        fn()
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.repeats):  # interleaved, so that the machine's load hits all alike
        for name, fn in timed.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    same, worst, near, total = True, 0.0, 0, 0
    for f in features:
        exact, screened = rescorer.factored_probabilities(f), rescorer.screened_probabilities(f)
        accepted = exact > 0.5
        same &= bool(np.array_equal(accepted, screened > 0.5))
        worst = max(worst, float(np.abs(exact[accepted] - screened[accepted]).max(initial=0.0)))
        logit, bound = rescorer._layers(f.layout)[1].logits(f)
        near += int((logit + rescorer.output_bias > -bound).sum())
        total += len(exact)

    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"Decision over {len(texts)} texts ({sum(map(len, texts)):,} characters, {total:,} candidates), "
          f"checkpoint {checkpoint} ({common.machine_line(common.machine())}); medians of {args.repeats} repeats; "
          f"{decision.describe()}")
    common.print_table(["stage", "seconds (spread)"],
                       [[name, f"{medians[name]:.3f} ({common.spread(times[name])})"] for name in timed])
    print(f"screened probabilities: {medians['screened'] / medians['float64']:.2f} of float64's time; "
          f"{near / max(total, 1):.1%} of candidates computed again in float64; same candidates accepted: "
          f"{'yes' if same else 'NO'}; largest difference of an accepted candidate's probability {worst:.1e}")
    path = common.write_result("decision", {
        "checkpoint": str(checkpoint), "corpus": args.corpus, "texts": len(texts), "candidates": total,
        "repeats": args.repeats, "decision": decision.describe(), "median_s": medians, "times_s": times,
        "screened_over_float64": medians["screened"] / medians["float64"], "float64_share": near / max(total, 1),
        "same_accepted": same, "largest_accepted_difference": worst,
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
