"""Scenario discovery (multivector discover): PRIM and CART on sweeps where the true box is known.

The synthetic sweeps are written in the layout `multivector sweep` writes (manifest, samples,
the runs and outcomes datasets, complete.json), so the command reads them exactly as it reads
a real sweep; one real sweep with calibration draws checks the draws reach discovery.
"""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from multivector.analysis.discovery import (
    Target,
    discover,
    load_rows,
    parse_condition,
)
from multivector.analysis.sweep_results import SweepReader
from multivector.cli.commands import app
from multivector.errors import InputError
from multivector.files import COMPLETE, file_record

RANGES = {"pressure": (0.0, 2.0), "weight": (0.5, 3.0), "noise": (-1.0, 1.0), "length": (1, 12)}
"""The inputs of the synthetic sweep: two make the box, two do nothing."""
BOX = {"pressure": (0.6, 1.4), "weight": (2.0, 3.0)}
"""The true box: the outcome is likely inside it, unlikely outside."""
INSIDE, OUTSIDE = 0.9, 0.05


def inside(values: dict[str, np.ndarray]) -> np.ndarray:
    held = np.ones(len(values["pressure"]), dtype=bool)
    for name, (low, high) in BOX.items():
        held &= (values[name] >= low) & (values[name] <= high)
    return held


def synthetic_sweep(folder: Path, samples: int = 600, replicates: int = 20, seed: int = 3) -> Path:
    """A finished sweep whose outcome 'tips' happens with chance 0.9 inside BOX, 0.05 outside.

    Its runs hold ``alignment_RUS``, below 0.5 exactly where 'tips' happened.
    """
    rng = np.random.default_rng(seed)
    values = {name: rng.uniform(low, high, samples) for name, (low, high) in RANGES.items()}
    values["length"] = np.round(values["length"])
    chance = np.where(inside(values), INSIDE, OUTSIDE)
    happened = rng.uniform(size=(samples, replicates)) < chance[:, None]
    folder.mkdir(parents=True)
    targets = {name: f"shock.test.{name}" for name in RANGES}
    manifest = {
        "experiment": {"name": "synthetic", "question": "q", "file": "x.toml", "sha256": "0"},
        "scenarios": [{"name": "only", "file": "s.toml", "sha256": "0"}],
        "seed": seed,
        "replicates_per_sample": replicates,
        "samples": samples,
        "runs": samples * replicates,
        "design": {
            "sampler": "lhs",
            "inputs": [{"target": t, "label": f"the {n}"} for n, t in targets.items()],
        },
        "outcomes": ["tips"],
        "package_version": "test",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    columns = {"sample": np.arange(samples, dtype=np.int64)}
    columns |= {targets[name]: values[name] for name in RANGES}
    pq.write_table(pa.table(columns), folder / "samples.parquet")
    for table in ("runs", "outcomes", "decisions"):
        (folder / table).mkdir()
    sample = np.repeat(np.arange(samples), replicates)
    alignment = np.where(happened.ravel(), 0.3, 0.7) + rng.uniform(-0.1, 0.1, sample.size)
    runs = pa.table(
        {
            "scenario": pa.array(["only"] * sample.size),
            "sample": sample.astype(np.int32),
            "replicate": np.tile(np.arange(replicates), samples).astype(np.int32),
            "month": pa.array(["2025-12"] * sample.size),
            "alignment_RUS": alignment,
        }
    )
    pq.write_table(runs, folder / "runs" / "part-000-0000000-0000000.parquet")
    outcomes = pa.table(
        {
            "scenario": pa.array(["only"] * samples),
            "sample": np.arange(samples, dtype=np.int64),
            "block": np.zeros(samples, dtype=np.int64),
            "outcome": pa.array(["tips"] * samples),
            "happened": happened.sum(axis=1).astype(np.int64),
            "replicates": np.full(samples, replicates, dtype=np.int64),
        }
    )
    pq.write_table(outcomes, folder / "outcomes" / "part-000-0000000-0000000.parquet")
    names = [
        "manifest.json",
        "samples.parquet",
        "runs/part-000-0000000-0000000.parquet",
        "outcomes/part-000-0000000-0000000.parquet",
    ]
    listed = {name: file_record(folder / name) for name in names}
    (folder / COMPLETE).write_text(json.dumps({"chunks": 1, "runs": samples, "files": listed}))
    return folder


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_sweep(tmp_path_factory.mktemp("discovery") / "synthetic")


def limits_of(found) -> dict[str, tuple[float, float]]:
    return {limit.input.split(".")[-1]: (limit.low, limit.high) for limit in found.box.limits}


def assert_recovers_box(found) -> None:
    limits = limits_of(found)
    assert set(limits) == set(BOX), limits  # the two box inputs, and not the two others
    for name, (low, high) in BOX.items():
        span = RANGES[name][1] - RANGES[name][0]
        assert abs(limits[name][0] - low) <= 0.1 * span, (name, limits[name])
        assert abs(limits[name][1] - high) <= 0.1 * span, (name, limits[name])


def test_prim_recovers_the_true_box_per_sample(sweep_folder: Path) -> None:
    target = Target(outcome="tips", threshold=0.5)
    found = discover(load_rows(SweepReader(sweep_folder), target), target, "prim")
    assert_recovers_box(found)
    assert found.box.density > 0.9 and found.box.coverage > 0.8
    # quasi-p-values: each restricted side is significant
    for limit in found.box.limits:
        for side in limit.restricted:
            assert getattr(limit, f"qp_{side}") < 0.05


def test_prim_recovers_the_true_box_per_replicate_from_a_condition(sweep_folder: Path) -> None:
    target = Target(condition=parse_condition("alignment_RUS < 0.5"), per="replicate")
    rows = load_rows(SweepReader(sweep_folder), target)
    assert len(rows.y) == 600 * 20 and rows.month == "2025-12"
    found = discover(rows, target, "prim")
    assert_recovers_box(found)
    # per run, the density inside the true box is about its chance of happening there
    assert found.box.density == pytest.approx(INSIDE, abs=0.05)


def test_replicate_rows_count_each_run_once(sweep_folder: Path) -> None:
    reader = SweepReader(sweep_folder)
    outcome = Target(outcome="tips", per="replicate")
    condition = Target(condition=parse_condition("alignment_RUS < 0.5"), per="replicate")
    by_outcome, by_condition = load_rows(reader, outcome), load_rows(reader, condition)
    # alignment is below 0.5 exactly in the runs where 'tips' happened: the same cases
    assert by_outcome.y.sum() == by_condition.y.sum()
    assert np.array_equal(by_outcome.share, by_condition.share)


def test_cart_rules_name_the_right_inputs(sweep_folder: Path) -> None:
    target = Target(outcome="tips")
    found = discover(load_rows(SweepReader(sweep_folder), target), target, "cart")
    interesting = [leaf for leaf in found.leaves if leaf.density >= 0.5]
    assert interesting
    named = {limit.input.split(".")[-1] for leaf in interesting for limit in leaf.limits}
    assert named == set(BOX)
    assert found.box is interesting[0] and found.box.density > 0.9


def test_feature_scores_put_the_box_inputs_first(sweep_folder: Path) -> None:
    target = Target(outcome="tips")
    found = discover(load_rows(SweepReader(sweep_folder), target), target, "prim", seed=1)
    ranked = [name.split(".")[-1] for name, _ in found.scores]
    assert set(ranked[:2]) == set(BOX)
    assert sum(score for _, score in found.scores) == pytest.approx(1.0)


def test_discover_command_writes_the_findings_and_figures(sweep_folder: Path, tmp_path) -> None:
    out = tmp_path / "found"
    result = CliRunner().invoke(
        app, ["discover", str(sweep_folder), "--outcome", "tips", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {Path(f).name for f in record["figures"]} == {
        "tradeoff.png",
        "box_limits.png",
        "pairs.png",
        "feature_scores.png",
    }
    for figure in record["figures"]:
        assert Path(figure).stat().st_size > 10_000
    assert json.loads((out / "discovery.json").read_text()) == record
    listed = json.loads((out / COMPLETE).read_text())["files"]
    assert set(listed) == {"discovery.json", *(Path(f).name for f in record["figures"])}
    assert record["sweep"]["seed"] == 3 and record["sweep"]["experiment"]["name"] == "synthetic"
    labels = {limit["label"] for limit in record["box"]["limits"]}
    assert labels == {"the pressure", "the weight"}  # the inputs' own labels
    # the rich table names the box inputs by label too
    cart = ["--method", "cart", "--out", str(tmp_path / "cart")]
    shown = CliRunner().invoke(app, ["discover", str(sweep_folder), "--outcome", "tips", *cart])
    assert shown.exit_code == 0, shown.output
    assert "the pressure" in shown.stdout and "leaves of interest" in shown.stdout


def test_discovery_is_reproducible(sweep_folder: Path, tmp_path) -> None:
    def found(out: Path) -> dict:
        args = ["discover", str(sweep_folder), "--where", "alignment_RUS<0.5", "--out", str(out)]
        assert CliRunner().invoke(app, args).exit_code == 0
        record = json.loads((out / "discovery.json").read_text())
        return {k: v for k, v in record.items() if k != "figures"}

    assert found(tmp_path / "a") == found(tmp_path / "b")


def test_default_folder_is_inside_the_results(sweep_folder: Path, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(sweep_folder, copy)
    result = CliRunner().invoke(app, ["discover", str(copy), "--where", "alignment_RUS <= 0.5"])
    assert result.exit_code == 0, result.output
    assert (copy / "discovery" / "alignment_rus-le-0.5-prim-per-sample" / "pairs.png").is_file()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--outcome", "joins"], "no outcome 'joins' in this sweep: its outcomes are tips"),
        (["--where", "alignment_XYZ < 0.5"], "no column 'alignment_XYZ' in the sweep's runs"),
        (["--where", "__import__('os').system('true')"], "only comparisons of a column"),
        (["--where", "alignment_RUS < "], "is not a condition"),
        (["--where", "alignment_RUS < balance"], "one column name and one number"),
        (["--where", "alignment_RUS < 0.5", "--month", "2024-12"], "2024-12 is not a month"),
        (["--where", "alignment_RUS < 0.5", "--month", "soon"], "is not a month YYYY-MM"),
        (["--outcome", "tips", "--where", "balance > 0"], "give either --outcome"),
        ([], "give either --outcome"),
        (["--outcome", "tips", "--per", "replicate", "--threshold", "0.3"], "--per sample only"),
        (["--outcome", "tips", "--threshold", "1.5"], "not a share above 0"),
        (["--outcome", "tips", "--method", "forest"], "choose prim or cart"),
        (["--outcome", "tips", "--per", "run"], "choose sample or replicate"),
        (["--outcome", "tips", "--scenario", "other"], "no scenario 'other'"),
        (["--outcome", "tips", "--box", "900"], "is not on the trade-off"),
        (["--where", "alignment_RUS < -5"], "no sample is a case of interest"),
        (["--where", "alignment_RUS < 5"], "every sample is a case of interest"),
    ],
)
def test_bad_arguments_are_one_line_errors(sweep_folder: Path, tmp_path, arguments, expected):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["discover", str(sweep_folder), *arguments, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing half-written


def test_a_folder_that_is_not_a_finished_sweep_is_refused(sweep_folder: Path, tmp_path) -> None:
    import shutil

    unfinished = tmp_path / "unfinished"
    shutil.copytree(sweep_folder, unfinished)
    (unfinished / COMPLETE).unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, expected in [
        (unfinished, "the sweep is not complete"),
        (empty, "holds no manifest.json"),
        (tmp_path / "missing", "no such results folder"),
    ]:
        result = CliRunner().invoke(app, ["discover", str(folder), "--outcome", "tips"])
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert not (unfinished / "discovery").exists()


def test_conditions_parse_without_evaluating_code() -> None:
    chained = parse_condition("0.2 < balance <= 0.6 or alignment_RUS >= 0.9")
    assert chained.columns == ["balance", "alignment_RUS"]
    table = pa.table({"balance": [0.1, 0.3, 0.7, 0.1], "alignment_RUS": [0.0, 0.0, 0.0, 0.95]})
    assert chained.evaluate(table).to_pylist() == [False, True, False, True]
    flipped = parse_condition("-0.5 > alignment_USA")
    assert str(flipped.tree) == "alignment_USA < -0.5"
    for text in ("open('x')", "a.b < 1", "x < 1e999", "[1] < 2", "not x < 1", "lambda: 1"):
        with pytest.raises(InputError):
            parse_condition(text)


EXPERIMENT = """
name = "draws-sweep"
question = "test"
scenarios = ["scenario.toml"]
samples = 16
replicates = 4
seed = 5
calibration_draws = true

[[input]]
target = "actor.KAZ.autonomy"
low = 0.0
high = 2.0

[[input]]
target = "shock.pressure.intensity"
low = 0.0
high = 2.0
"""


def test_calibration_draws_are_recorded_and_discovered(tmp_path) -> None:
    """A real sweep with calibration draws writes draws.parquet; discovery treats the draws as
    inputs, except the one an input replaces."""
    from test_sweep import write

    from multivector.inputs.experiment import load_experiment
    from multivector.runs.sweep import sweep

    design = load_experiment(write(tmp_path, EXPERIMENT))
    out = tmp_path / "out"
    sweep(design, out, workers=1)
    assert "draws.parquet" in json.loads((out / COMPLETE).read_text())["files"]
    draws = pq.read_table(out / "draws.parquet")
    assert draws.num_rows == 16 and "KAZ.autonomy" in draws.column_names
    # the draws are those the runs used: the same seed and count as the sweep's weight sets
    weights, _ = design.calibration_sets[0]
    assert not np.allclose(weights[0], weights[1])
    import pyarrow.dataset as ds

    alignment = ds.dataset(out / "runs").to_table(columns=["alignment_RUS"]).column(0).to_numpy()
    middle = float(np.median(alignment))
    target = Target(condition=parse_condition(f"alignment_RUS < {middle}"), per="replicate")
    rows = load_rows(SweepReader(out), target)
    assert "draw.precision" in rows.x.columns and "draw.stake" in rows.x.columns
    assert "draw.KAZ.autonomy" not in rows.x.columns  # replaced by the input in every sample
    assert rows.labels["draw.stake"] == "drawn stake weight (all states)"
