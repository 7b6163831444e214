"""The calibrated parameter file: the documented defaults with the fitted values and the fit."""

from pathlib import Path

from multivector.actors import ACTORS, INDEX
from multivector.analysis.calibration import Calibrated
from multivector.files import write_text
from multivector.inputs.library import Library
from multivector.inputs.parameters import TERMS, Parameters
from multivector.inputs.uncertainty import parameter_sets


def calibrated_file_text(calibrated: Calibrated, prior: Parameters, library: Library) -> str:
    """The calibrated parameter file: the defaults with fitted values and the fit's record."""
    import tomli_w

    data = prior.spec.model_dump(exclude_none=True)
    weights, precision = parameter_sets(calibrated.free, calibrated.fit.estimate[None], prior)
    data["description"] = (
        f"Calibrated to {calibrated.validation.summary(0)['decisions']} documented choices "
        f"({calibrated.design} design) by maximum a posteriori with a weak prior"
    )
    data["provenance"] = (
        "multivector calibrate: L-BFGS-B on the replayed record, Laplace covariance; "
        f"prior and fixed values from {prior.path.name} (sha256 {prior.sha256})"
    )
    # the shared values are those of an actor without offsets
    shared = next(INDEX[a] for a in ACTORS if all(f.actor != a for f in calibrated.free))
    data["choice"]["precision"] = float(precision[0, shared])
    for term in TERMS:
        data["weights"][term] = float(weights[0, shared, TERMS.index(term)])
    data["actor"] = {}
    for code in sorted({f.actor for f in calibrated.free if f.actor is not None}):
        row = INDEX[code]
        data["actor"][code] = {
            term: float(weights[0, row, TERMS.index(term)])
            for term in TERMS
            if weights[0, row, TERMS.index(term)] != weights[0, shared, TERMS.index(term)]
        }
        data["actor"][code]["precision"] = float(precision[0, row])
    data["calibration"] = {
        "method": "MAP (L-BFGS-B) with Gaussian prior; Laplace approximation with BHHH information",
        "design": calibrated.design,
        "library_sha256": library.sha256,
        "prior_file": prior.path.name,
        "prior_sha256": prior.sha256,
        "free": [f.name for f in calibrated.free],
        "estimate": [float(x) for x in calibrated.fit.estimate],
        "covariance": [[float(x) for x in row] for row in calibrated.covariance],
        "decisions": len(calibrated.replay.observations),
        "episodes": len({o.episode for o in calibrated.replay.observations}),
        "log_likelihood": calibrated.fit.log_likelihood,
        "log_posterior": calibrated.fit.log_posterior,
    }
    header = (
        "# Calibrated parameters, written by `multivector calibrate`; do not edit by hand.\n"
        "# The [calibration] table records the design, the library version it was fitted on,\n"
        "# the free parameters (log precision, shared weights, Kazakh offsets), their estimate\n"
        "# and the Laplace covariance that runs draw parameter uncertainty from.\n\n"
    )
    return header + tomli_w.dumps(data)


def write_calibrated(text: str, path: Path) -> None:
    """Write the calibrated file, staged (whole or absent)."""
    write_text(path, text)
