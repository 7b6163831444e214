"""Outcome distributions two ways: Mesa's batch_run against multivector's sweep engine.

The same history scenario and seed, N runs each way on this machine, in one process tree:

(a) ``mesa.batch_run`` driving the model one replicate per model instance, with
    ``number_processes=2``: the ordinary way a Mesa user would collect N runs;
(b) multivector's sweep engine with 2 worker processes, the replicates of a chunk advanced
    together by one model instance.

Both give each run's alignment of Kazakhstan toward Russia, China and the US and its balance
in the last month; the script checks they are identical run by run, then prints
``{"runs", "batch_run_s", "multivector_s", "ratio", "peak_rss_mb", ...}``.
(b) runs first, so ``peak_rss_mb`` (the largest resident set of this process or any of its
workers) is the sweep's.

Usage:
    python benchmarks/sweep_vs_batch_run.py [--runs N] [--json]
"""

import argparse
import json
import resource
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

import mesa
import numpy as np
import pyarrow.parquet as pq
from report import emit  # benchmarks/report.py, beside this script

from multivector.actors import INDEX, POLES
from multivector.core.model import MultivectorModel
from multivector.core.observation import POLE_INDEX, balance
from multivector.inputs.experiment import load_experiment
from multivector.inputs.scenario import Scenario, load_scenario
from multivector.runs.sweep import sweep
from multivector.version import __version__

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "benchmarks" / "history_library.toml"
SEED = 7
WORKERS = 2
METRICS = [*(f"alignment_{p}" for p in POLES), "balance"]


@cache
def history() -> Scenario:
    """The history scenario (read once per process)."""
    return load_scenario(HISTORY)


class HistoryReplicate(MultivectorModel):
    """One replicate of the history, written as a Mesa user would for batch_run.

    Args:
        replicate: Which replicate of the seed's streams to run.
        rng: The seed.
    """

    def __init__(self, replicate: int = 0, rng: int = SEED) -> None:
        super().__init__(history(), rng=rng, replicate_ids=np.array([replicate]))
        reporters = {
            f"alignment_{pole}": lambda m, i=INDEX[pole]: float(m.world.relation[0, 0, i])
            for pole in POLES
        }
        reporters["balance"] = lambda m: float(balance(m.world.relation[0, 0, POLE_INDEX]))
        self.datacollector = mesa.DataCollector(model_reporters=reporters)

    def step(self) -> None:
        """Advance a month; record the end state after the last one."""
        super().step()
        if not self.running:
            self.datacollector.collect(self)


def with_batch_run(runs: int) -> tuple[float, np.ndarray]:
    """(a): batch_run, one model instance per run, two processes."""
    start = time.perf_counter()
    rows = mesa.batch_run(
        HistoryReplicate,
        parameters={"replicate": range(runs)},
        number_processes=WORKERS,
        rng=[SEED],
        data_collection_period=-1,
        max_steps=10_000,
        display_progress=False,
    )
    seconds = time.perf_counter() - start
    ordered = sorted(rows, key=lambda row: row["replicate"])
    return seconds, np.array([[row[m] for m in METRICS] for row in ordered])


def with_sweep(runs: int, folder: Path) -> tuple[float, np.ndarray]:
    """(b): the sweep engine, two worker processes, chunks split between them."""
    experiment = folder / "history_runs.toml"
    experiment.write_text(
        f'name = "history-runs"\nquestion = "benchmark"\nscenarios = ["{HISTORY}"]\n'
        f"samples = 1\nreplicates = {runs}\nseed = {SEED}\n"
        f"chunk_runs = {max(1, -(-runs // WORKERS))}\n"
        '[keep]\nmonths = "last"\nmetrics = ["alignment", "balance"]\n'
    )
    start = time.perf_counter()
    design = load_experiment(experiment)
    report = sweep(design, folder / "out", workers=WORKERS)
    seconds = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"sweep failed: {report.failed}")
    table = pq.read_table(folder / "out" / "runs").to_pandas().sort_values("replicate")
    return seconds, table[METRICS].to_numpy()


def peak_rss_mb() -> float:
    """Largest resident set so far of this process or any finished child (Linux: KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def main() -> None:
    """Run both ways, check the results agree, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    history()  # both sides start with the scenario read and the model imported
    with tempfile.TemporaryDirectory() as folder:
        sweep_s, sweep_values = with_sweep(args.runs, Path(folder))
    peak = peak_rss_mb()
    batch_s, batch_values = with_batch_run(args.runs)
    difference = float(np.abs(sweep_values - batch_values).max())
    result = {
        "runs": args.runs,
        "batch_run_s": round(batch_s, 2),
        "multivector_s": round(sweep_s, 2),
        "ratio": round(batch_s / sweep_s, 1),
        "peak_rss_mb": peak,
        "identical": bool(np.array_equal(sweep_values, batch_values)),
        "max_abs_difference": difference,
        "workers": WORKERS,
        "seed": SEED,
        "package_version": __version__,
    }
    if not result["identical"]:
        print(json.dumps(result), file=sys.stderr)
        raise SystemExit("the two ways disagree run by run")
    emit(result, args.json)


if __name__ == "__main__":
    main()
