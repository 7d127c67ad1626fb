"""What the benchmark scripts share: checkpoint lookup, timing, machine notes, tables, JSON results.

Run a benchmark as ``python benchmarks/<name>.py``: Python puts ``benchmarks/`` on ``sys.path``,
which is how the scripts import this module.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_CORPUS = ROOT / "data" / "raw" / "policy_keyphrases.txt"
DEFAULT_RUNS = ROOT / "outputs" / "default"


def fail(message: str) -> None:
    """One line on stderr and exit 2, like the ``kpt-*`` commands."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def resolve_checkpoint(path: str | None) -> Path:
    """``path``, or the newest ``outputs/default/*/model`` (what ``make train`` writes).

    Never trains one: a benchmark that quietly trained a model would time the wrong thing.
    """
    if path:
        directory = Path(path)
        if not (directory / "config.json").is_file():
            hint = " (pass the run's model/ directory)" if (directory / "model" / "config.json").is_file() else ""
            fail(f"{directory}: not a checkpoint directory{hint}")
        return directory
    found = sorted(DEFAULT_RUNS.glob("*/model/config.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        fail(f"no checkpoint given and none under {DEFAULT_RUNS}/*/model: run `make train` first "
             "or pass --checkpoint DIR (a run's model/ directory)")
    return found[-1].parent


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Wall-clock seconds of ``repeats`` calls (warm-up is the caller's job) and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def summary(times: Sequence[float]) -> dict:
    """Median and spread of repeated timings: the machine is shared, so the spread is reported."""
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": len(times),
    }


def spread(times: Sequence[float]) -> str:
    """``max/min - 1`` as a percentage: how noisy the repeats were."""
    return f"{(max(times) / min(times) - 1) * 100:.0f}%"


def machine() -> dict:
    """What a reader needs to compare numbers: CPU, cores, library versions, thread count."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        # The widest vector instructions torch uses here ("AVX512", "AVX2", ...): machines of one
        # CPU name can differ in them, and the model's and numpy's speeds with them.
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        # Other processes share the cores: the load average says how busy the machine was.
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS") if k in os.environ},
    }


def machine_line(info: dict) -> str:
    env = "".join(f", {k}={v}" for k, v in info["environment"].items())
    return (f"{info['cpu']} ({info.get('cpu_capability', '?')}), {info['cpu_count']} cores, "
            f"torch {info['torch']} with {info['torch_threads']} threads{env}, transformers {info['transformers']}, "
            f"load average {info['load_average_1_5_15min'][0]:.1f}")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so the output can be pasted into docs as it is."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))


def write_result(name: str, payload: dict, out_dir: Path | None = None, label: str | None = None) -> Path:
    """``benchmarks/results/<name>[-<label>].json`` with the machine and the time of the run."""
    out_dir = Path(out_dir or RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (f"{name}-{label}.json" if label else f"{name}.json")
    body = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **payload}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
