"""Time the history run: one interactive replicate, and a large batch on the replicate axis.

Usage: python benchmarks/history_run.py [--replicates N] [--json]
Prints seconds for one replicate (after import), seconds for N replicates, and peak RSS.
"""

import argparse
import resource
import time
from pathlib import Path

from report import emit  # benchmarks/report.py, beside this script

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    from multivector.core.model import MultivectorModel
    from multivector.inputs.scenario import load_scenario
    from multivector.runs.runner import run_scenario

    imported = time.perf_counter()
    scenario = load_scenario(ROOT / "scenarios" / "history_2014_2024.toml")
    MultivectorModel(scenario, replicates=1).run()  # warm caches (library, structure)
    one = time.perf_counter()
    MultivectorModel(scenario, replicates=1).run()
    single_s = time.perf_counter() - one
    batch_start = time.perf_counter()
    run = run_scenario(scenario, replicates=args.replicates, seed=7)
    batch_s = time.perf_counter() - batch_start
    result = {
        "import_s": round(imported - start, 3),
        "single_replicate_s": round(single_s, 4),
        "replicates": args.replicates,
        "batch_s": round(batch_s, 3),
        "replicates_per_s": round(args.replicates / batch_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "alignment_shape": list(run.alignment().shape),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
