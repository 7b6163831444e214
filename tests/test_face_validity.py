"""The face-validity table: documented warming and cooling beside the model's moves."""

import numpy as np
import pytest

from multivector.analysis.face_validity import Period, evaluate, load_periods, period_change
from multivector.calendar import RECORD_END, RECORD_START, parse_month
from multivector.inputs.scenario import Record, Scenario
from multivector.runs.runner import run_scenario


def test_the_periods_cover_the_record_and_each_pole():
    periods = load_periods()
    assert len(periods) >= 12
    assert {p.pole for p in periods} == {"RUS", "CHN", "USA"}
    assert {p.direction for p in periods if p.pole == "RUS"} == {"warming", "cooling"}
    years = {parse_month(p.start) // 12 for p in periods}
    assert min(years) <= 2018 and max(years) >= 2025
    for period in periods:
        assert period.sources and all(s.strip() for s in period.sources), period.id
        before, last = period.months
        assert parse_month(RECORD_START) <= before < last <= parse_month(RECORD_END), period.id
    # the years the issue asked about: the 2017-2018 US partnership
    us = [p for p in periods if p.pole == "USA" and p.start <= "2018-01" <= p.end]
    assert us and us[0].direction == "warming"


@pytest.fixture(scope="module")
def quiet_run():
    """Months after the record with no episode, started from the record's state: relations
    only relax, toward a structural level that holds still (every series is past its last row).
    """
    scenario = Scenario(
        name="quiet",
        question="Nothing happens",
        start="2026-04",
        end="2026-12",
        seed=3,
        start_from="record",
        record=Record(until="2026-03"),
    )
    return run_scenario(scenario, replicates=12, seed=3)


QUIET = Period(
    id="quiet",
    pole="USA",
    start="2026-06",
    end="2026-11",
    direction="warming",
    record="nothing documented",
    sources=["a test"],
)


def test_relaxation_alone_is_not_counted_as_the_episodes_push(quiet_run):
    assert not quiet_run.decisions()
    change, drift = period_change(quiet_run, QUIET)
    # the alignment moves (toward its structural level) although nothing happens ...
    assert np.abs(change).max() > 1e-3
    # ... and all of that move is relaxation: the episodes push nothing
    assert np.allclose(change, drift, atol=1e-12)
    (row,) = evaluate(quiet_run, (QUIET,))["periods"]
    assert row["episodes_push"] == 0.0 and not row["agrees"]


def test_a_period_outside_the_run_is_not_judged(quiet_run):
    late = QUIET.model_copy(update={"start": "2027-01", "end": "2027-02"})
    assert period_change(quiet_run, late) is None
    assert evaluate(quiet_run, (late,)) == {
        "periods": [],
        "agreeing": 0,
        "judged": 0,
        "agreement": None,
    }


def test_the_2022_cooling_toward_russia_is_pushed_by_the_episodes(history):
    """The invasion months: the record's plainest cooling, which the library documents fully."""
    scenario = history.model_copy(update={"start": "2021-10", "end": "2022-08"})
    run = run_scenario(scenario, replicates=40, seed=5)
    (period,) = [p for p in load_periods() if p.id == "russia-after-invasion-2022"]
    (row,) = evaluate(run, (period,))["periods"]
    assert row["agrees"] and row["episodes_push"] < -0.1
    assert row["share_pushed_as_recorded"] > 0.8
