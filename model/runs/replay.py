"""The documented record replayed: documented choices imposed, the rest by expectation.

The calibration scores the probabilities a replay gives each documented choice, and
``episodes`` and ``predict`` read them; all three replay the record through this one function.
"""

import numpy as np

from multivector.calendar import RECORD_END, RECORD_START, parse_month
from multivector.core.model import MultivectorModel
from multivector.inputs.library import Library
from multivector.inputs.parameters import Parameters
from multivector.inputs.scenario import Scenario
from multivector.inputs.uncertainty import point_parameters


def history_scenario(last_month: int | None = None) -> Scenario:
    """The documented record as a scenario (extended to ``last_month`` if later than 2024)."""
    end = RECORD_END
    if last_month is not None and last_month > parse_month(RECORD_END):
        end = f"{last_month // 12:04d}-{last_month % 12 + 1:02d}"
    return Scenario(
        name="record", question="The documented record", start=RECORD_START, end=end, seed=0
    )


def replay_record(
    parameters: Parameters,
    library: Library,
    parameter_sets: tuple[np.ndarray, np.ndarray] | None = None,
    last_month: int | None = None,
    scenario: Scenario | None = None,
) -> MultivectorModel:
    """Replay the documented record (documented choices imposed) and return the finished model.

    Args:
        parameters: Fixed parameters (dynamics, structure) and, without ``parameter_sets``,
            the weights of a batch of one.
        library: The episode library to replay.
        parameter_sets: Per-replicate weights and precisions, one replicate per vector.
        last_month: Extend the replay to this month (for episodes after 2024).
        scenario: The span to replay (the record, extended to ``last_month``, if None).
    """
    sets = parameter_sets or point_parameters(parameters)
    model = MultivectorModel(
        scenario or history_scenario(last_month),
        replicates=len(sets[0]),
        parameters=parameters,
        library=library,
        replay=True,
        parameter_sets=sets,
    )
    return model.run()
