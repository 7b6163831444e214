"""100,000 runs of the history through `multivector sweep`: wall time and peak memory.

Runs ``multivector sweep benchmarks/history_100k.toml --workers 2`` as a child process (every
month and every metric kept), then prints ``{"runs", "seconds", "peak_rss_mb", "rows"}``.
``peak_rss_mb`` is the largest resident set of the sweep's process or any of its workers.

Usage:
    python benchmarks/sweep_100k.py [--experiment FILE] [--workers N] [--json]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds
from report import emit  # benchmarks/report.py, beside this script

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Run the sweep in a child process and report its time and memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=Path, default=HERE / "history_100k.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "sweep"
        command = [
            sys.executable, "-m", "multivector", "sweep", str(args.experiment),
            "--workers", str(args.workers), "--out", str(out), "--json",
        ]  # fmt: skip
        start = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if finished.returncode != 0:
            raise SystemExit(f"sweep failed ({finished.returncode}): {finished.stderr.strip()}")
        report = json.loads(finished.stdout)
        rows = ds.dataset(out / "runs", format="parquet").count_rows()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "runs": report["runs"],
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak, 1),
        "rows": rows,
        "chunks": report["chunks"],
        "workers": args.workers,
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
