"""A finished sweep's results folder, read with pyarrow: the input of its figures and analyses.

Every reader aggregates in pyarrow (``group_by``, filters on the columns asked for), so a sweep
of 100,000 runs is summarised without loading every row into Python objects. The figures
(:mod:`multivector.viz.sweep_plots`) and scenario discovery
(:mod:`multivector.analysis.discovery`) both read a sweep through :class:`SweepReader`.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from multivector.actors import POLES
from multivector.errors import InputError

END_METRICS = [*(f"alignment_{p}" for p in POLES), "balance"]
"""The end-state metrics the figures summarise per sample, when the runs table holds them."""


class SweepReader:
    """A sweep's results folder, read lazily.

    Args:
        folder: The folder ``multivector sweep`` wrote.
    """

    def __init__(self, folder: Path) -> None:
        from multivector.runs.sweep import verify_results

        self.folder = Path(folder)
        manifest = self.folder / "manifest.json"
        if not self.folder.is_dir():
            raise InputError(self.folder, "", "no such results folder")
        if not manifest.is_file():
            raise InputError(self.folder, "", "holds no manifest.json: not a sweep's results")
        # every file checked against complete.json first: a damaged chunk is one input error
        # naming it, not a Parquet traceback half-way through a figure
        verify_results(self.folder)
        with self._reading(manifest):
            self.manifest: dict[str, Any] = json.loads(manifest.read_text())
            self.samples = pq.read_table(self.folder / "samples.parquet")
            draws = self.folder / "draws.parquet"
            # the calibration draws, per scenario and sample (sweeps with calibration_draws)
            self.draws: pa.Table | None = pq.read_table(draws) if draws.is_file() else None
        self._sample_means: dict[str, dict[str, np.ndarray]] = {}

    @contextmanager
    def _reading(self, what: Path) -> Iterator[None]:
        """Turn a read that fails despite the checks (a file changed in place) into one line."""
        try:
            yield
        except (OSError, ValueError, pa.ArrowException) as error:
            problem = " ".join(str(error).split())[:200]
            raise InputError(
                what, "", f"cannot be read ({problem}): rerun the sweep with --resume"
            ) from None

    def table(self, name: str, columns: list[str] | None = None, filter: Any = None) -> pa.Table:
        """Read one of the datasets (runs, decisions, outcomes)."""
        import pyarrow.dataset as ds

        with self._reading(self.folder / name):
            dataset = ds.dataset(self.folder / name, format="parquet")
            return dataset.to_table(columns=columns, filter=filter)

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.manifest["experiment"]["name"]

    @property
    def scenarios(self) -> list[str]:
        """Scenario names."""
        return [s["name"] for s in self.manifest["scenarios"]]

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The varied inputs as the manifest records them."""
        return self.manifest["design"]["inputs"]

    @property
    def subtitle(self) -> str:
        """Sweep size for figure titles."""
        m = self.manifest
        return (
            f"sweep {self.name}: {m['samples']} samples x {m['replicates_per_sample']} replicates "
            f"per scenario, {m['design']['sampler']} sampler, seed {m['seed']}"
        )

    @cached_property
    def metrics(self) -> list[str]:
        """The end-state metrics the runs table holds (read from its schema)."""
        import pyarrow.dataset as ds

        with self._reading(self.folder / "runs"):
            names = ds.dataset(self.folder / "runs", format="parquet").schema.names
        return [m for m in END_METRICS if m in names]

    @cached_property
    def last_month(self) -> str:
        """The last month kept (read once: every end-state figure needs it)."""
        months = self.table("runs", ["month"]).column("month")
        return pc.max(months).as_py()

    def decision_means(self) -> Any:
        """Per sample and option of every kept decision: its probabilities and choices.

        Returns:
            A pandas frame with the mean probability where posed and the share of replicates
            choosing it, the replicate blocks combined.
        """
        table = self.table("decisions")
        keys = ["scenario", "sample", "decision", "decider", "option"]
        grouped = (
            table.group_by(keys, use_threads=False)
            .aggregate(
                [
                    ("probability_sum", "sum"),
                    ("posed", "sum"),
                    ("chosen", "sum"),
                    ("replicates", "sum"),
                ]
            )
            .to_pandas()
        )
        posed = grouped["posed_sum"].where(grouped["posed_sum"] > 0)
        grouped["mean_probability"] = grouped["probability_sum_sum"] / posed
        # blocks where a decision was not posed have no row: divide by all replicates
        grouped["chosen_share"] = grouped["chosen_sum"] / self.manifest["replicates_per_sample"]
        return grouped

    @cached_property
    def outcome_shares(self) -> Any:
        """Per scenario, sample and outcome: the share of replicates in which it happened."""
        table = self.table("outcomes")
        grouped = (
            table.group_by(["scenario", "sample", "outcome"], use_threads=False)
            .aggregate([("happened", "sum"), ("replicates", "sum")])
            .to_pandas()
        )
        grouped["share"] = grouped["happened_sum"] / grouped["replicates_sum"]
        return grouped.sort_values(["scenario", "outcome", "sample"]).reset_index(drop=True)

    def sample_means(self, scenario: str) -> dict[str, np.ndarray]:
        """Per sample, the mean over replicates of each end-state metric (sample order).

        Kept per scenario: the scatter, Sobol and grid figures all read it.
        """
        if scenario not in self._sample_means:
            self._sample_means[scenario] = self._read_sample_means(scenario)
        return self._sample_means[scenario]

    def _read_sample_means(self, scenario: str) -> dict[str, np.ndarray]:
        last = self.last_month
        runs = self.table(
            "runs",
            ["sample", *self.metrics],
            filter=(pc.field("scenario") == scenario) & (pc.field("month") == last),
        )
        grouped = runs.group_by("sample", use_threads=False).aggregate(
            [(m, "mean") for m in self.metrics]
        )
        order = np.argsort(grouped.column("sample").to_numpy())
        out = {"sample": grouped.column("sample").to_numpy()[order]}
        for m in self.metrics:
            out[m] = grouped.column(f"{m}_mean").to_numpy()[order]
        return out
