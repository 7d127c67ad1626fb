"""Data preparation speed: MB/s of ``kpt-prepare``'s labeling, and its peak memory.

The corpus is synthesised from the real one: its documents and their phrase lists (the lexicon
each document is labeled with) are written out again and again into a temporary file until it
reaches each requested size (10 MB and 100 MB by default; MB = 10^6 bytes of the corpus file).

What is timed, at each size, in a fresh process (so that peak memory is that size's alone):

- ``read``:  ``read_corpus`` (decode and split the file into documents);
- ``label``: ``label_document`` on every document (clean the list, match every kept phrase with
  ``PhraseMatcher``, build the tags and stats), each result dropped at once: the labeling path;
- ``prepare``: ``prepare_corpus`` as ``kpt-prepare`` calls it (read + label + split), which keeps
  every labeled document, as training needs them.

Memory: peak RSS of each process (``ru_maxrss``), and the labeling's own working memory measured
with ``tracemalloc`` (a separate, untimed pass): the most Python/numpy memory labeling held at once
beyond the corpus already read. The corpus itself and ``prepare_corpus``'s result grow with the
data by nature; labeling's working memory should not grow with the number of documents.

    python benchmarks/bench_prepare.py [--sizes-mb 10 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import common

TARGET_MB_PER_S = 10.0


def synthesise(corpus: Path, target_bytes: int, out: Path) -> int:
    """Write ``corpus`` repeated until ``out`` holds at least ``target_bytes``; return its size."""
    block = corpus.read_bytes()
    if not block.endswith(b"\n"):
        block += b"\n"
    copies = max(1, -(-target_bytes // len(block)))
    with out.open("wb") as f:
        for _ in range(copies):
            f.write(block)
    return out.stat().st_size


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def worker(path: Path, repeats: int) -> dict:
    """Run in a child process: time read/label/prepare on ``path``, then measure memory."""
    from keyphrase_tagger.data.cleaning import CleaningConfig
    from keyphrase_tagger.data.corpus import read_corpus
    from keyphrase_tagger.data.prepare import label_document, prepare_corpus

    cleaning = CleaningConfig()
    baseline_rss = rss_mb()
    read_s, label_s = [], []
    n_docs = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        raws = read_corpus(path)
        t1 = time.perf_counter()
        for raw in raws:
            label_document(raw, cleaning, "warn", path)
        t2 = time.perf_counter()
        read_s.append(t1 - t0)
        label_s.append(t2 - t1)
        n_docs = len(raws)
        del raws
    label_rss = rss_mb()

    # Labeling's working memory: what it allocates beyond the documents already in memory.
    raws = read_corpus(path)
    tracemalloc.start()
    for raw in raws:
        label_document(raw, cleaning, "warn", path)
    _, label_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del raws

    t0 = time.perf_counter()
    prepared = prepare_corpus({"corpus_path": str(path)})
    prepare_s = time.perf_counter() - t0
    assert len(prepared.documents) == n_docs
    del prepared
    return {
        "documents": n_docs,
        "read_s": read_s,
        "label_s": label_s,
        "prepare_s": prepare_s,
        "baseline_rss_mb": baseline_rss,
        "read_label_peak_rss_mb": label_rss,
        "prepare_peak_rss_mb": rss_mb(),
        "label_working_memory_mb": label_peak / 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(common.DEFAULT_CORPUS), help="corpus file to synthesise from")
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per size (median reported)")
    parser.add_argument("--label", default=None, help="results go to <name>-<label>.json (keeps runs apart)")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (default benchmarks/results)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.repeats)))
        return

    load_at_start = os.getloadavg()[0]
    corpus = Path(args.corpus)
    if not corpus.is_file():
        common.fail(f"{corpus}: corpus file not found (pass --corpus FILE)")
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="kpt-bench-prepare-") as tmp:
        for size_mb in args.sizes_mb:
            path = Path(tmp) / f"corpus_{size_mb:g}MB.txt"
            nbytes = synthesise(corpus, int(size_mb * 1e6), path)
            # A fresh interpreter per size: ru_maxrss is a high-water mark for the whole process.
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", str(path), "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                common.fail(f"the worker for {size_mb:g} MB failed (exit {proc.returncode})")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            mb = nbytes / 1e6
            label_med = statistics.median(r["label_s"])
            read_med = statistics.median(r["read_s"])
            result = {
                "size_mb": mb,
                "documents": r["documents"],
                "label_mb_per_s": mb / label_med,
                "read_label_mb_per_s": mb / (label_med + read_med),
                "prepare_corpus_mb_per_s": mb / r["prepare_s"],
                "label_spread": common.spread(r["label_s"]),
                **r,
            }
            results.append(result)
            rows.append([
                f"{mb:.1f}", r["documents"], f"{result['label_mb_per_s']:.1f}", f"{result['read_label_mb_per_s']:.1f}",
                f"{result['prepare_corpus_mb_per_s']:.1f}", f"{r['label_working_memory_mb']:.1f}",
                f"{r['read_label_peak_rss_mb']:.0f}", f"{r['prepare_peak_rss_mb']:.0f}",
            ])

    info = common.machine()
    print(f"Data preparation ({common.machine_line(info)}); medians of {args.repeats} passes; load average {load_at_start:.1f} at start")
    common.print_table(
        ["corpus MB", "documents", "label MB/s", "read+label MB/s", "prepare_corpus MB/s",
         "labeling working mem MB", "peak RSS read+label MB", "peak RSS prepare MB"],
        rows,
    )
    slowest = min(r["label_mb_per_s"] for r in results)
    mems = [r["label_working_memory_mb"] for r in results]
    flat = max(mems) <= 1.5 * min(mems) + 1.0
    print(f"target: labeling >= {TARGET_MB_PER_S:g} MB/s: {'met' if slowest >= TARGET_MB_PER_S else 'NOT met'} "
          f"(slowest {slowest:.1f} MB/s); labeling working memory flat across sizes: {'yes' if flat else 'NO'} "
          f"({', '.join(f'{m:.1f}' for m in mems)} MB)")
    path = common.write_result("prepare", {
        "corpus": str(corpus),
        "repeats": args.repeats,
        "load_average_at_start": load_at_start,
        "target_mb_per_s": TARGET_MB_PER_S,
        "target_met": slowest >= TARGET_MB_PER_S,
        "working_memory_flat": flat,
        "results": results,
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
