"""The documented record replayed: documented choices imposed, the rest by expectation.

The calibration scores the probabilities a replay gives each documented choice, and
``episodes`` and ``predict`` read them; all three replay the record through this one function.
"""

import numpy as np

from multivector.calendar import RECORD_END, RECORD_START, month_label, parse_month
from multivector.core.model import MultivectorModel
from multivector.inputs.library import Library
from multivector.inputs.parameters import Parameters
from multivector.inputs.scenario import Record, Scenario
from multivector.inputs.uncertainty import point_parameters


def history_scenario(last_month: int | None = None) -> Scenario:
    """The documented record as a scenario, to ``last_month`` (RECORD_END if None)."""
    end = RECORD_END if last_month is None else month_label(last_month)
    return Scenario(
        name="record",
        question="The documented record",
        start=RECORD_START,
        end=end,
        seed=0,
        record=Record(votes=True),
    )


def replay_record(
    parameters: Parameters,
    library: Library,
    parameter_sets: tuple[np.ndarray, np.ndarray] | None = None,
    last_month: int | None = None,
    scenario: Scenario | None = None,
    forecast_from: int | None = None,
) -> MultivectorModel:
    """Replay the documented record (documented choices imposed) and return the finished model.

    Args:
        parameters: Fixed parameters (dynamics, structure) and, without ``parameter_sets``,
            the weights of a batch of one.
        library: The episode library to replay.
        parameter_sets: Per-replicate weights and precisions, one replicate per vector.
        last_month: Extend the replay to this month (for episodes after the record's last month).
        scenario: The span to replay (the record, extended to ``last_month``, if None).
        forecast_from: The month from which no documented choice is imposed (all forecast).
    """
    sets = parameter_sets or point_parameters(parameters)
    model = MultivectorModel(
        scenario or history_scenario(max(last_month or 0, parse_month(RECORD_END))),
        replicates=len(sets[0]),
        parameters=parameters,
        library=library,
        replay=True,
        parameter_sets=sets,
        forecast_from=forecast_from,
    )
    return model.run()
