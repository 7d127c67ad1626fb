"""Inference memory: peak RSS of ``KeyphraseExtractor.extract`` on one long document, by its length.

The document is the corpus texts joined (and repeated) up to each length in characters (100,000
and 1,000,000 by default). Each length runs in a fresh process, so that its peak RSS
(``ru_maxrss``, a high-water mark for the whole process) is that length's alone: the process
loads the checkpoint, warms up on one short text, notes its peak RSS (``loaded``), runs
``extract`` on the document once, and notes it again (``peak``). The growth from the shortest to
the longest document is what the document's length costs.

Each length is measured with the decision's ``chunk_chars`` as ``kpt-predict`` runs it
(``configs/predict.yaml``; longer texts decided in pieces, ``decision/pieces.py``) and with
``chunk_chars=None`` (every text decided whole), unless ``--chunk-chars`` names the settings.

    python benchmarks/bench_memory.py [--checkpoint DIR] [--chars 100000 1000000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import common

TARGET_GROWTH_MB = 250.0


def predict_chunk_chars() -> int | None:
    """``chunk_chars`` of ``configs/predict.yaml``: what ``kpt-predict`` decides long texts with."""
    from omegaconf import OmegaConf

    return OmegaConf.load(common.ROOT / "configs" / "predict.yaml").chunk_chars


def long_text(corpus: Path, n_chars: int) -> str:
    """The corpus's document texts (every other line, from the first) joined and repeated to ``n_chars``."""
    joined = "".join(corpus.read_text(encoding="utf-8").splitlines()[0::2])
    return (joined * (n_chars // len(joined) + 1))[:n_chars]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def worker(checkpoint: str, corpus: Path, n_chars: int, chunk_chars: int | None, threads: int | None) -> dict:
    """Run in a child process: peak RSS after loading, and after ``extract`` on ``n_chars`` characters."""
    import torch

    from keyphrase_tagger.inference.extractor import KeyphraseExtractor

    if threads:
        torch.set_num_threads(threads)
    text = long_text(corpus, n_chars)
    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu", chunk_chars=chunk_chars)
    extractor.extract("完善养老服务体系，发展数字经济和金融科技")
    loaded = peak_rss_mb()
    t0 = time.perf_counter()
    phrases = extractor.extract(text)
    seconds = time.perf_counter() - t0
    return {"chars": n_chars, "chunk_chars": chunk_chars, "loaded_peak_rss_mb": loaded, "peak_rss_mb": peak_rss_mb(),
            "extract_s": seconds, "phrases": len(phrases)}


def measure(args, n_chars: int, chunk_chars: int | None) -> dict:
    """:func:`worker` in a fresh interpreter."""
    command = [sys.executable, __file__, "--worker", "--checkpoint", str(args.checkpoint), "--corpus", args.corpus,
               "--chars", str(n_chars), "--chunk-chars", str(chunk_chars)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        common.fail(f"the worker for {n_chars} characters, chunk_chars={chunk_chars}, failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def chunk_setting(value: str) -> int | None:
    return None if value.lower() in ("none", "null") else int(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="a run's model/ directory (default: newest outputs/default)")
    parser.add_argument("--corpus", default=str(common.DEFAULT_CORPUS), help="corpus file whose texts are joined")
    parser.add_argument("--chars", type=int, nargs="+", default=[100_000, 1_000_000], help="document lengths")
    parser.add_argument("--chunk-chars", type=chunk_setting, nargs="+", default=None,
                        help="decision chunk sizes to measure (none = whole texts); default: predict.yaml's and none")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--label", default=None, help="results go to <name>-<label>.json (keeps runs apart)")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (default benchmarks/results)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.checkpoint, Path(args.corpus), args.chars[0], args.chunk_chars[0], args.threads)))
        return

    args.checkpoint = common.resolve_checkpoint(args.checkpoint)
    settings = args.chunk_chars if args.chunk_chars is not None else list(dict.fromkeys([predict_chunk_chars(), None]))
    results, rows, growth = [], [], {}
    for chunk_chars in settings:
        runs = [measure(args, n, chunk_chars) for n in sorted(args.chars)]
        growth[str(chunk_chars)] = runs[-1]["peak_rss_mb"] - runs[0]["peak_rss_mb"]
        results += runs
        rows += [[chunk_chars, f"{r['chars']:,}", f"{r['loaded_peak_rss_mb']:.0f}", f"{r['peak_rss_mb']:.0f}",
                  f"{r['extract_s']:.1f}", r["phrases"]] for r in runs]
    info = common.machine()
    print(f"Peak RSS of extract on one document ({common.machine_line(info)}); checkpoint {args.checkpoint}")
    common.print_table(["chunk_chars", "characters", "loaded peak RSS MB", "peak RSS MB", "extract s", "phrases"], rows)
    for chunk_chars, mb in growth.items():
        print(f"chunk_chars={chunk_chars}: growth {min(args.chars):,} -> {max(args.chars):,} characters {mb:+.0f} MB "
              f"(target <= {TARGET_GROWTH_MB:g} MB: {'met' if mb <= TARGET_GROWTH_MB else 'NOT met'})")
    path = common.write_result("inference-memory", {
        "checkpoint": str(args.checkpoint), "corpus": args.corpus, "target_growth_mb": TARGET_GROWTH_MB,
        "predict_yaml_chunk_chars": predict_chunk_chars(), "growth_mb": growth, "results": results,
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
