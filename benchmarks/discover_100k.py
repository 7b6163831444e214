"""Scenario discovery over a 100,000-run sweep: wall time and peak memory of `multivector discover`.

Runs ``multivector sweep benchmarks/discovery_100k.toml`` (1,000 samples of Kazakhstan's
weights x 100 replicates) unless ``--results`` names a finished sweep, then times
``multivector discover RESULTS --where CONDITION --per replicate`` (one row per run: 100,000
rows) in a child process of its own, so that its peak resident set is the discovery's alone.
Prints ``{"runs", "rows", "seconds", "peak_rss_mb", ...}``.

Usage:
    python benchmarks/discover_100k.py [--results FOLDER] [--where COND] [--method M] [--json]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import emit  # benchmarks/report.py, beside this script

HERE = Path(__file__).resolve().parent


def measure(command: list[str]) -> None:
    """Run ``command`` as a child and print its wall time, peak RSS and stdout as JSON."""
    start = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"discover failed ({finished.returncode}): {finished.stderr.strip()}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps({"seconds": seconds, "peak_rss_mb": peak, "record": json.loads(finished.stdout)})
    )


def main() -> None:
    """Sweep if needed, then measure the discovery in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="a finished sweep (default: run one)")
    parser.add_argument("--where", default="alignment_RUS < 0.25")
    parser.add_argument("--method", default="prim", choices=["prim", "cart"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--measure", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory() as folder:
        results = args.results
        if results is None:
            results = Path(folder) / "sweep"
            sweep = [
                sys.executable, "-m", "multivector", "sweep", str(HERE / "discovery_100k.toml"),
                "--workers", str(args.workers), "--out", str(results), "--json",
            ]  # fmt: skip
            subprocess.run(sweep, capture_output=True, check=True)
        discover = [
            sys.executable, "-m", "multivector", "discover", str(results), "--where", args.where,
            "--per", "replicate", "--method", args.method, "--out", str(Path(folder) / "found"),
            "--json",
        ]  # fmt: skip
        # a grandchild: this process's own children (the sweep) do not count toward its peak
        measured = subprocess.run(
            [sys.executable, __file__, "--measure", *discover],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        figures = json.loads(measured.stdout)
    record = figures["record"]
    emit(
        {
            "runs": record["sweep"]["runs"],
            "rows": record["rows"],
            "cases": record["cases"],
            "method": record["method"],
            "seconds": round(figures["seconds"], 1),
            "peak_rss_mb": round(figures["peak_rss_mb"], 1),
            "box_coverage": record["box"]["coverage"],
            "box_density": record["box"]["density"],
        },
        args.json,
    )


if __name__ == "__main__":
    main()
