"""Sweeps: determinism across workers, chunks and Dask; kill and resume; retries; figures."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from multivector.cli.commands import app
from multivector.core.model import MultivectorModel
from multivector.files import STAGED_GLOB
from multivector.inputs.experiment import load_experiment
from multivector.inputs.scenario import load_scenario, scenario_parameters
from multivector.runs.sweep import TABLES, sweep

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
name = "sweep-test"
question = "test"
start = "2022-01"
end = "2022-12"
seed = 4

[[shock]]
kind = "sanctions"
name = "pressure"
date = "2022-05"
imposer = "USA"
target = "RUS"
secondary = ["KAZ"]

[[shock]]
kind = "protest"
name = "unrest"
date = "2022-02"
hazard = 0.1
country = "KAZ"
against = "RUS"
"""


def write(folder: Path, experiment: str) -> Path:
    """Write the test scenario and an experiment beside it."""
    (folder / "scenario.toml").write_text(SCENARIO)
    path = folder / "experiment.toml"
    path.write_text(experiment)
    return path


SHOCK_EXPERIMENT = """
name = "shock-sweep"
question = "test"
scenarios = ["scenario.toml"]
sampler = "lhs"
samples = 12
replicates = 15
seed = 9
chunk_runs = 45

[[input]]
target = "shock.pressure.intensity"
low = 0.0
high = 2.0

[[input]]
target = "dynamics.response"
low = 0.05
high = 0.3

[[outcome]]
name = "complies"
all = [{ decision = "pressure/compliance-kaz", actor = "KAZ", chose = ["comply_without_joining"] }]

[keep]
months = "all"
metrics = ["alignment", "balance", "dependence"]
"""

WEIGHT_EXPERIMENT = """
name = "weight-sweep"
question = "test"
scenarios = ["scenario.toml"]
sampler = "sobol"
samples = 48
replicates = 6
seed = 2
chunk_runs = 60

[[input]]
target = "actor.KAZ.material"
low = 0.0
high = 4.0

[[input]]
target = "actor.KAZ.mood"
low = 0.0
high = 0.01

[keep]
months = "last"
"""


def dataset(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table of a results folder, sorted so that chunking does not matter."""
    out = {}
    for name in TABLES:
        frame = pq.read_table(folder / name).to_pandas()
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.CategoricalDtype):
                frame[column] = frame[column].astype(str)
        keys = [c for c in frame.columns if frame[c].dtype.kind not in "f"]
        out[name] = frame.sort_values(keys, kind="mergesort").reset_index(drop=True)
    return out


def assert_same(a: Path, b: Path) -> None:
    """Two results folders hold the same data and the same samples."""
    left, right = dataset(a), dataset(b)
    for name in TABLES:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True)
    assert pq.read_table(a / "samples.parquet").equals(pq.read_table(b / "samples.parquet"))


@pytest.fixture(scope="module")
def shock_design(tmp_path_factory):
    return load_experiment(write(tmp_path_factory.mktemp("shock"), SHOCK_EXPERIMENT))


@pytest.fixture(scope="module")
def reference(shock_design, tmp_path_factory):
    """The shock sweep run in this process, one worker."""
    out = tmp_path_factory.mktemp("reference") / "out"
    report = sweep(shock_design, out, workers=1)
    assert not report.failed
    return out


def test_same_results_whatever_worker_count_and_chunk_size(shock_design, reference, tmp_path):
    """Two worker processes and bigger chunks give the same dataset as one worker."""
    report = sweep(shock_design, tmp_path / "two", workers=2, chunk_runs=90)
    assert report.chunks == 2 and not report.failed
    assert_same(reference, tmp_path / "two")


def test_a_sample_equals_a_direct_model_run(shock_design, reference):
    """Sample k of the sweep is the model run with sample k's inputs, replicate by replicate."""
    k = 7
    scenario = shock_design.sample_scenario(shock_design.scenarios[0], k)
    parameters = shock_design.sample_parameters(shock_design.base_parameters[0], k)
    model = MultivectorModel(
        scenario, rng=9, parameters=parameters, replicate_ids=np.arange(15)
    ).run()
    runs = pq.read_table(reference / "runs").to_pandas()
    mine = runs[(runs["sample"] == k) & (runs["month"] == "2022-12")].sort_values("replicate")
    assert np.array_equal(mine["alignment_RUS"].to_numpy(), model.world.relation[:, 0, 1])
    assert parameters.spec.dynamics.response == pytest.approx(shock_design.values[k, 1])


def test_weight_only_inputs_batch_samples_into_one_model(tmp_path):
    """A batched sweep gives each sample exactly its own parameters' results."""
    design = load_experiment(write(tmp_path, WEIGHT_EXPERIMENT))
    assert design.batched and design.samples == 48
    sweep(design, tmp_path / "out", workers=1)
    runs = pq.read_table(tmp_path / "out" / "runs").to_pandas()
    for k in (0, 29):
        parameters = design.sample_parameters(scenario_parameters(design.scenarios[0]), k)
        alone = MultivectorModel(
            design.scenarios[0], rng=2, parameters=parameters, replicate_ids=np.arange(6)
        ).run()
        mine = runs[runs["sample"] == k].sort_values("replicate")
        assert np.array_equal(mine["alignment_USA"].to_numpy(), alone.world.relation[:, 0, 2])


def test_dask_cluster_gives_the_local_results(shock_design, reference, tmp_path):
    """A real Dask scheduler and two worker processes on 127.0.0.1 give the same dataset."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = CliRunner().invoke(
            app,
            [
                "sweep",
                str(shock_design.path),
                "--scheduler",
                cluster.scheduler_address,
                "--out",
                str(tmp_path / "dask"),
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["failed"] == []
    assert_same(reference, tmp_path / "dask")


LONG_SAMPLES = 60


@pytest.fixture(scope="module")
def long_design(tmp_path_factory):
    """A slower sweep (seven years, 60 one-sample chunks), so an interruption lands mid-way."""
    folder = tmp_path_factory.mktemp("long")
    (folder / "scenario.toml").write_text(
        SCENARIO.replace('start = "2022-01"', 'start = "2016-01"')
    )
    path = folder / "experiment.toml"
    path.write_text(SHOCK_EXPERIMENT.replace("samples = 12", f"samples = {LONG_SAMPLES}"))
    design = load_experiment(path)
    sweep(design, folder / "reference", workers=1, chunk_runs=15)
    return design, folder / "reference"


def finished_chunks(folder: Path) -> int:
    """Chunk files renamed into place; a staged one (still being written) is not one."""
    return len(set(folder.glob("*.parquet")) - set(folder.glob(STAGED_GLOB)))


@pytest.mark.parametrize(
    ("how", "workers", "code"),
    [(signal.SIGKILL, "1", -signal.SIGKILL), (signal.SIGINT, "2", 130)],
    ids=["kill-9", "ctrl-c"],
)
def test_interrupted_sweep_resumes_to_the_same_results(long_design, tmp_path, how, workers, code):
    """kill -9 or Ctrl-C mid-way, then --resume: finished chunks are kept, the result is whole."""
    design, reference = long_design
    out = tmp_path / "interrupted"
    command = [
        sys.executable, "-m", "multivector", "sweep", str(design.path),
        "--workers", workers, "--chunk-runs", "15", "--out", str(out),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, start_new_session=True, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and finished_chunks(out / "outcomes") < 2:
        time.sleep(0.05)
    if how == signal.SIGKILL:
        os.killpg(process.pid, how)  # the whole process group, workers too
    else:
        process.send_signal(how)  # as Ctrl-C does to the foreground process
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    if how == signal.SIGINT:
        assert stderr.strip().splitlines() == [
            f"interrupted: finished chunks are kept in {out}/; run again with --resume"
        ]
    kept = finished_chunks(out / "runs")
    assert 2 <= kept < LONG_SAMPLES and not (out / "complete.json").exists()
    result = CliRunner().invoke(
        app, ["sweep", str(design.path), "--resume", "--chunk-runs", "15", "--out", str(out),
              "--workers", "1", "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["already_done"] >= 2 and report["already_done"] + report["ran"] == LONG_SAMPLES
    assert not list(out.glob("*/.*.partial*"))
    assert_same(reference, out)


def test_failed_chunk_is_retried_then_reported(shock_design, monkeypatch, tmp_path):
    """A chunk that fails once is retried; one that keeps failing is reported, not dropped."""
    import multivector.runs.sweep as engine

    calls: dict[int, int] = {}
    real = engine.run_task

    def flaky(design, task):
        calls[task.first] = calls.get(task.first, 0) + 1
        if task.first == 3 and calls[task.first] == 1:
            raise RuntimeError("transient")
        if task.first == 6:
            raise RuntimeError("always")
        return real(design, task)

    monkeypatch.setattr(engine, "run_task", flaky)
    out = tmp_path / "out"
    report = sweep(shock_design, out, workers=1)
    assert calls[3] == 2 and calls[6] == engine.RETRIES + 1
    assert [c for c, _ in report.failed] == ["part-000-0000006-0000000"]
    assert "always" in report.failed[0][1]
    assert not (out / "complete.json").exists()
    monkeypatch.setattr(engine, "run_task", real)
    again = sweep(shock_design, out, workers=1, resume=True)
    assert again.ran == 1 and not again.failed and (out / "complete.json").exists()


def test_resume_refuses_a_different_experiment(shock_design, reference, tmp_path):
    """Resuming with a changed experiment, or reusing a folder, is an input error."""
    changed = tmp_path / "experiment.toml"
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    changed.write_text(SHOCK_EXPERIMENT.replace("seed = 9", "seed = 10"))
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", str(changed), "--resume", "--out", str(reference)])
    assert result.exit_code == 2 and "differs from this experiment" in result.stderr
    result = runner.invoke(app, ["sweep", str(shock_design.path), "--out", str(reference)])
    assert result.exit_code == 2 and "use --resume" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_outcomes_agree_with_the_choices(reference):
    """An outcome of one choice happens exactly as often as that choice was made."""
    from multivector.analysis.sweep_results import SweepReader

    results = SweepReader(reference)
    outcomes = results.outcome_shares
    decisions = results.decision_means()
    chosen = decisions[
        (decisions["decision"] == "pressure/compliance-kaz")
        & (decisions["option"] == "comply_without_joining")
    ].sort_values("sample")
    assert np.array_equal(outcomes["share"].to_numpy(), chosen["chosen_share"].to_numpy())
    assert outcomes["share"].between(0, 1).all() and outcomes["share"].std() > 0


def test_samples_follow_the_design(shock_design):
    """LHS puts one sample in each stratum of every input, within its bounds."""
    values = shock_design.values
    assert values.shape == (12, 2)
    strata = np.floor(values[:, 0] / 2.0 * 12).astype(int)
    assert sorted(strata) == list(range(12))
    assert (values[:, 1] >= 0.05).all() and (values[:, 1] <= 0.3).all()
    again = load_experiment(shock_design.path)
    assert np.array_equal(again.values, values)


def test_plot_draws_every_figure_and_sobol_finds_the_influential_weight(tmp_path):
    """Sobol indices rank a weight with a wide range above one with almost none.

    The scenario runs on the documented defaults, so the test is about the ranking and not
    about the shipped calibration (at whose low fitted precision Kazakhstan's few 2022
    material choices draw the same option in every one of these 6 replicates).
    """
    from multivector.inputs.parameters import DOCUMENTED_DEFAULTS

    path = write(tmp_path, WEIGHT_EXPERIMENT)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(f'parameters = "{DOCUMENTED_DEFAULTS}"\n' + scenario.read_text())
    design = load_experiment(path)
    sweep(design, tmp_path / "out", workers=1)
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    drawn = json.loads(result.stdout)
    names = {Path(f).name for f in drawn["figures"]}
    assert {"end_state.png", "scatter.png", "sobol.png"} <= names
    for figure in drawn["figures"]:
        assert Path(figure).stat().st_size > 15_000
    indices = drawn["sobol"]["indices"]["alignment_USA"]
    material, mood = indices["actor.KAZ.material"], indices["actor.KAZ.mood"]
    assert material["ST"] > 0.5 and mood["ST"] < 0.05


def test_plot_rejects_a_folder_that_is_not_a_finished_sweep(tmp_path):
    """plot on a missing or unfinished folder: one line, exit 2."""
    runner = CliRunner()
    result = runner.invoke(app, ["plot", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no such results folder" in result.stderr
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.json").write_text("{}")
    result = runner.invoke(app, ["plot", str(tmp_path / "half")])
    assert result.exit_code == 2 and "--resume" in result.stderr


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            'target = "shock.pressure.intensity"',
            "input[0].target: no scenario has a shock named 'nope'",
        ),
        ('target = "dynamics.response"', "input[1].target: unknown field"),
        ('scenarios = ["scenario.toml"]', "scenarios[0]: no such file"),
        ("samples = 12", "samples: Input should be greater than or equal to 1"),
        ("low = 0.05", "input[1].low"),
        ('decision = "pressure/compliance-kaz"', "no decision 'pressure/compliance-kz'"),
        ("high = 2.0", "input[0](shock.pressure.intensity): value 2.7"),
    ],
)
def test_malformed_experiment_is_rejected_with_one_line(tmp_path, change, fragment):
    """Bad experiment files: exit 2, one line naming the field."""
    broken = {
        'target = "shock.pressure.intensity"': 'target = "shock.nope.intensity"',
        'target = "dynamics.response"': 'target = "dynamics.speed"',
        'scenarios = ["scenario.toml"]': 'scenarios = ["missing.toml"]',
        "samples = 12": "samples = 0",
        "low = 0.05": 'low = "low"',
        'decision = "pressure/compliance-kaz"': 'decision = "pressure/compliance-kz"',
        "high = 2.0": "high = 3.0",
    }[change]
    path = write(tmp_path, SHOCK_EXPERIMENT.replace(change, broken))
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert fragment in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_shipped_experiments_load():
    """The three shipped experiments validate and sample."""
    for name in ("sanctions_sweep", "sensitivity_sobol", "venue_sweep"):
        design = load_experiment(ROOT / "experiments" / f"{name}.toml")
        assert design.samples > 1 and design.runs > 1000
    sobol = load_experiment(ROOT / "experiments" / "sensitivity_sobol.toml")
    assert sobol.samples == 2304 and sobol.batched
    assert load_scenario(ROOT / "scenarios" / "sanctions_and_russian_pressure_2023.toml")


def test_samples_with_many_replicates_split_into_replicate_blocks(tmp_path, monkeypatch):
    """A sample's replicates split across chunks give the same dataset as one chunk."""
    import multivector.runs.sweep as engine

    monkeypatch.setattr(engine, "REPLICATE_BLOCK", 10)
    experiment = SHOCK_EXPERIMENT.replace("samples = 12", "samples = 2").replace(
        "replicates = 15", "replicates = 30"
    )
    design = load_experiment(write(tmp_path, experiment))
    split = engine.plan_tasks(design, 10)
    assert [(t.first, t.replicate_first, t.replicate_last) for t in split][:3] == [
        (0, 0, 10),
        (0, 10, 20),
        (0, 20, 30),
    ]
    sweep(design, tmp_path / "split", workers=1, chunk_runs=10)
    sweep(design, tmp_path / "whole", workers=1, chunk_runs=100)
    assert_same(tmp_path / "split", tmp_path / "whole")
    blocks = pq.read_table(tmp_path / "whole" / "outcomes").to_pandas()
    assert sorted(set(blocks["block"])) == [0, 1, 2]
