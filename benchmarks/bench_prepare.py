"""Data preparation speed: MB/s of ``kpt-prepare``'s labeling, and its peak memory.

The corpus is synthesised from the real one: its documents and their phrase lists (the lexicon
each document is labeled with) are written out again and again into a temporary file until it
reaches each requested size (10 MB and 100 MB by default; MB = 10^6 bytes of the corpus file).

What is timed, at each size, in a fresh process (so that peak memory is that size's alone):

- ``read``:  ``read_corpus`` (decode and split the file into documents);
- ``label``: ``label_document`` on every document (clean the list, match every kept phrase with
  ``PhraseMatcher``, build the tags and stats), each result dropped at once: the labeling path;
- ``prepare``: ``prepare_corpus`` (read + label + split), which keeps every labeled document, as
  training needs them.

Then ``kpt-prepare`` itself runs on the same file, in a process of its own (``python -m
keyphrase_tagger.cli.prepare``, the dataset written into the temporary directory): its wall time
and its peak RSS (``ru_maxrss`` of that child, what ``/usr/bin/time -v`` reports). It streams the
corpus and writes the Arrow dataset ``data.write_batch_documents`` documents at a time, so its peak
should not grow with the corpus; ``imports`` is the peak of a process that only imports it.

Memory: peak RSS of each process (``ru_maxrss``), and the labeling's own working memory measured
with ``tracemalloc`` (a separate, untimed pass): the most Python/numpy memory labeling held at once
beyond the corpus already read.

    python benchmarks/bench_prepare.py [--sizes-mb 10 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import common

TARGET_MB_PER_S = 15.0  # labeling, at the largest size
# kpt-prepare's peak RSS may grow by this much from the smallest to the largest size: one batch of
# documents per split being written, not the corpus.
TARGET_RSS_GROWTH_MB = 50.0


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


def child_peak_rss_mb(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and its own peak RSS in MB (``wait4``'s rusage)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1"}
    log = cwd / "child.log"
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    if proc.returncode != 0:
        sys.stderr.write(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        common.fail(f"{' '.join(command[:3])} failed (exit {proc.returncode})")
    return seconds, usage.ru_maxrss * 1024 / 1e6


def run_kpt_prepare(corpus: Path, tmp: Path) -> dict:
    """``kpt-prepare`` on ``corpus`` in a fresh process: wall seconds and peak RSS."""
    out = tmp / f"processed_{corpus.stem}"
    seconds, rss = child_peak_rss_mb([sys.executable, "-m", "keyphrase_tagger.cli.prepare",
                                      f"data.corpus_path={corpus}", f"data.processed_dir={out}"], tmp)
    shutil.rmtree(out)
    return {"kpt_prepare_s": seconds, "kpt_prepare_peak_rss_mb": rss}


def measure(corpus: Path, size_mb: float, repeats: int, tmp: Path) -> dict:
    """One size: the labeling worker and then ``kpt-prepare``, each in a fresh interpreter
    (``ru_maxrss`` is a high-water mark for the whole process)."""
    path = tmp / f"corpus_{size_mb:g}MB.txt"
    nbytes = synthesise(corpus, int(size_mb * 1e6), path)
    proc = subprocess.run([sys.executable, __file__, "--worker", str(path), "--repeats", str(repeats)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        common.fail(f"the worker for {size_mb:g} MB failed (exit {proc.returncode})")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r.update(run_kpt_prepare(path, tmp))
    path.unlink()
    mb = nbytes / 1e6
    label_med, read_med = statistics.median(r["label_s"]), statistics.median(r["read_s"])
    return {
        "size_mb": mb,
        "documents": r["documents"],
        "label_mb_per_s": mb / label_med,
        "read_label_mb_per_s": mb / (label_med + read_med),
        "prepare_corpus_mb_per_s": mb / r["prepare_s"],
        "kpt_prepare_mb_per_s": mb / r["kpt_prepare_s"],
        "label_spread": common.spread(r["label_s"]),
        **r,
    }


def report(results: list[dict], imports_rss: float, repeats: int, load_at_start: float) -> dict:
    """Print the table and the verdicts; return the verdicts for the JSON."""
    print(f"Data preparation ({common.machine_line(common.machine())}); medians of {repeats} passes; "
          f"load average {load_at_start:.1f} at start")
    common.print_table(
        ["corpus MB", "documents", "label MB/s", "read+label MB/s", "prepare_corpus MB/s",
         "labeling working mem MB", "peak RSS read+label MB", "peak RSS prepare MB",
         "kpt-prepare MB/s", "peak RSS kpt-prepare MB"],
        [[f"{r['size_mb']:.1f}", r["documents"], f"{r['label_mb_per_s']:.1f}", f"{r['read_label_mb_per_s']:.1f}",
          f"{r['prepare_corpus_mb_per_s']:.1f}", f"{r['label_working_memory_mb']:.1f}",
          f"{r['read_label_peak_rss_mb']:.0f}", f"{r['prepare_peak_rss_mb']:.0f}",
          f"{r['kpt_prepare_mb_per_s']:.1f}", f"{r['kpt_prepare_peak_rss_mb']:.0f}"] for r in results],
    )
    print(f"a process that only imports kpt-prepare: peak RSS {imports_rss:.0f} MB")
    by_size = sorted(results, key=lambda r: r["size_mb"])
    speed = by_size[-1]["label_mb_per_s"]
    peaks = [r["kpt_prepare_peak_rss_mb"] for r in by_size]
    growth = peaks[-1] - peaks[0]
    mems = [r["label_working_memory_mb"] for r in by_size]
    flat = max(mems) <= 1.5 * min(mems) + 1.0
    print(f"target: labeling >= {TARGET_MB_PER_S:g} MB/s at {by_size[-1]['size_mb']:.0f} MB: "
          f"{'met' if speed >= TARGET_MB_PER_S else 'NOT met'} ({speed:.1f} MB/s); "
          f"labeling working memory flat across sizes: {'yes' if flat else 'NO'} ({', '.join(f'{m:.1f}' for m in mems)} MB); "
          f"kpt-prepare peak RSS growth <= {TARGET_RSS_GROWTH_MB:g} MB: {'met' if growth <= TARGET_RSS_GROWTH_MB else 'NOT met'} "
          f"({' -> '.join(f'{p:.0f}' for p in peaks)} MB)")
    return {"target_met": speed >= TARGET_MB_PER_S, "working_memory_flat": flat,
            "kpt_prepare_rss_growth_mb": growth, "kpt_prepare_rss_target_met": growth <= TARGET_RSS_GROWTH_MB}


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
    with tempfile.TemporaryDirectory(prefix="kpt-bench-prepare-") as tmp:
        _, imports_rss = child_peak_rss_mb([sys.executable, "-c", "import keyphrase_tagger.cli.prepare, datasets"],
                                           Path(tmp))
        results = [measure(corpus, size_mb, args.repeats, Path(tmp)) for size_mb in args.sizes_mb]
    verdicts = report(results, imports_rss, args.repeats, load_at_start)
    path = common.write_result("prepare", {
        "corpus": str(corpus),
        "repeats": args.repeats,
        "load_average_at_start": load_at_start,
        "target_mb_per_s": TARGET_MB_PER_S,
        "imports_peak_rss_mb": imports_rss,
        "target_rss_growth_mb": TARGET_RSS_GROWTH_MB,
        **verdicts,
        "results": results,
    }, args.out_dir, args.label)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
