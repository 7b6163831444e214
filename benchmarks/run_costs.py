"""Measure what a replicate of a run costs in memory and on disk (``model/data/costs.toml``).

Usage: python benchmarks/run_costs.py [--small N] [--large N] [--json]

Runs ``multivector run`` in a child process for two scenarios (the history with the routine UN
agenda: many decision slots; the 2025 blockade: few) at two replicate counts each, and reads
each child's peak resident memory (``wait4``) and the size of its output folder. The slope
between the counts is the cost of a replicate; two scenarios of different shape separate the
cost per replicate-month from the cost per decision slot (a 2 x 2 solve). Prints the figures
``model/data/costs.toml`` records, and how closely the file's figures predict each run.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from report import emit  # benchmarks/report.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("history_2014_2026", "russian_transit_blockade_2025")


def measure(scenario: Path, replicates: int, out: Path) -> tuple[int, int]:
    """Peak RSS (bytes) of ``multivector run`` and the bytes it wrote."""
    command = [sys.executable, "-m", "multivector", "run", str(scenario)]
    command += ["--replicates", str(replicates), "--out", str(out), "--json"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{scenario.name} x {replicates} failed with {child.returncode}")
    written = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    return usage.ru_maxrss * 1024, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=400)
    parser.add_argument("--large", type=int, default=1600)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from multivector import api
    from multivector.inputs.costs import load_costs

    shapes, memory, disk, runs = [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for name in SCENARIOS:
            path = ROOT / "scenarios" / f"{name}.toml"
            cost = api.estimate(path, replicates=args.large)
            shapes.append((cost.months, cost.slots))
            (rss_s, disk_s), (rss_l, disk_l) = (
                measure(path, n, Path(scratch) / f"{name}-{n}") for n in (args.small, args.large)
            )
            span = args.large - args.small
            memory.append(((rss_l - rss_s) / span, rss_s - args.small * (rss_l - rss_s) / span))
            disk.append(((disk_l - disk_s) / span, disk_s - args.small * (disk_l - disk_s) / span))
            runs.append((name, args.large, rss_l, disk_l, cost.memory_bytes, cost.disk_bytes))
    shape = np.array(shapes, dtype=float)
    per_memory = np.linalg.solve(shape, [m[0] for m in memory])
    per_disk = np.linalg.solve(shape, [d[0] for d in disk])
    recorded = load_costs()
    result = {
        "memory": {
            "base_bytes": int(min(m[1] for m in memory)),
            "per_replicate_month": round(float(per_memory[0]), 1),
            "per_decision_slot": round(float(per_memory[1]), 1),
        },
        "disk": {
            "base_bytes": int(max(d[1] for d in disk)),
            "per_replicate_month": round(float(per_disk[0]), 2),
            "per_decision_slot": round(float(per_disk[1]), 2),
        },
        "shapes": {
            name: {"months": m, "slots": s} for name, (m, s) in zip(SCENARIOS, shapes, strict=True)
        },
        "check": {
            name: {
                "replicates": n,
                "measured_rss_mb": round(rss / 1e6, 1),
                "costs_toml_memory_mb": round(est_m / 1e6, 1),
                "measured_disk_mb": round(written / 1e6, 2),
                "costs_toml_disk_mb": round(est_d / 1e6, 2),
            }
            for name, n, rss, written, est_m, est_d in runs
        },
        "costs_toml_measured": recorded.measured,
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
