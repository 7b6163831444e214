"""The calibrated parameter file: the documented defaults with the fitted values and the fit."""

from pathlib import Path

from multivector.actors import INDEX
from multivector.analysis.calibration import Calibrated
from multivector.calendar import month_label
from multivector.files import write_text
from multivector.inputs.library import Library
from multivector.inputs.parameters import TERMS, Parameters
from multivector.inputs.uncertainty import parameter_sets, tremble_share


def calibrated_file_text(calibrated: Calibrated, prior: Parameters, library: Library) -> str:
    """The calibrated parameter file: the defaults with fitted values and the fit's record."""
    import tomli_w

    data = prior.spec.model_dump(exclude_none=True)
    weights, precision = parameter_sets(calibrated.free, calibrated.fit.estimate[None], prior)
    data["description"] = (
        f"Calibrated to {len(calibrated.replay.observations)} documented choices "
        f"({calibrated.design} design) by maximum a posteriori with a weak prior"
    )
    data["provenance"] = (
        "multivector calibrate: L-BFGS-B on the replayed record, Laplace covariance; "
        f"prior and fixed values from {prior.path.name} (sha256 {prior.sha256})"
    )
    # the shared values are those of an actor without offsets
    no_offsets = calibrated.fit.estimate.copy()
    no_offsets[[k for k, f in enumerate(calibrated.free) if f.actor is not None]] = 0.0
    shared_weights, shared_precision = parameter_sets(calibrated.free, no_offsets[None], prior)
    data["choice"]["precision"] = float(shared_precision[0, 0])
    data["choice"]["tremble"] = float(
        tremble_share(calibrated.free, calibrated.fit.estimate[None])[0]
    )
    for term in TERMS:
        data["weights"][term] = float(shared_weights[0, 0, TERMS.index(term)])
    data["actor"] = {}
    for code in sorted({f.actor for f in calibrated.free if f.actor is not None}):
        row = INDEX[code]
        data["actor"][code] = {
            term: float(weights[0, row, TERMS.index(term)])
            for term in TERMS
            if weights[0, row, TERMS.index(term)] != shared_weights[0, 0, TERMS.index(term)]
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
    if calibrated.until is not None:
        data["calibration"]["fitted_before"] = month_label(calibrated.until)
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
