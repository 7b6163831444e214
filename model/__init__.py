"""Multivector: an agent-based model of Kazakhstan's multi-vector foreign policy.

The package is laid out by role:

- ``actors``: the six states and their codes.
- ``schema``: validated formats of the data files (episodes, structure, parameters, scenarios).
- ``library``: loads the episode library and compiles it into decisions the model can pose.
- ``structure``: time-varying structural inputs (dependence, baseline relations).
- ``parameters``: the parameter file (utility weights, dynamics) and its hash.
- ``utility``: the utility function, term by term.
- ``choice``: logit choice and the quantal-response equilibrium.
- ``streams``: per-replicate random streams keyed by (seed, replicate).
- ``agents`` / ``model``: the Mesa agents and model.
- ``observation``: alignment, balance, UN agreement and S-scores.
- ``runner`` / ``outputs`` / ``plotting`` / ``cli``: running scenarios and writing results.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("multivector")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
