"""What produced a result, fixed when its inputs are loaded.

Every input file is hashed from the bytes that were parsed (:class:`Source`), when it is read,
so a file edited during a long run is still recorded as it was used. :class:`Provenance`
gathers a run's inputs and renders the records outputs write: the run summary and Parquet
metadata, each side of a comparison's drift.json, and a scenario's entry in a sweep manifest.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multivector.calendar import month_label
from multivector.version import __version__

if TYPE_CHECKING:
    from multivector.inputs.parameters import Parameters
    from multivector.inputs.scenario import Scenario


@dataclass(frozen=True)
class Source:
    """An input file as it was read.

    Attributes:
        file: The path as given.
        sha256: Hash of the bytes parsed.
    """

    file: str
    sha256: str

    @classmethod
    def of(cls, path: Path, data: bytes) -> "Source":
        """The source of ``data``, read from ``path``."""
        return cls(str(path), hashlib.sha256(data).hexdigest())

    @classmethod
    def read(cls, path: Path) -> "Source":
        """Read ``path`` and hash it (for a file not parsed here)."""
        return cls.of(path, Path(path).read_bytes())


@dataclass(frozen=True)
class Provenance:
    """A run's inputs, as loaded.

    Attributes:
        scenario: The scenario (with its
            :attr:`~multivector.inputs.scenario.Scenario.source` if it was read from a file).
        parameters: The parameters used (their hash taken when read).
        library_sha256: The episode library's version.
    """

    scenario: "Scenario"
    parameters: "Parameters"
    library_sha256: str

    def run_record(self, seed: int, replicates: int, months: list[int]) -> dict[str, Any]:
        """The record of summary.json and the Parquet metadata."""
        from multivector.inputs.shocks import describe, templates_sha256

        spec = self.scenario
        scenario: dict[str, Any] = {
            "name": spec.name,
            "question": spec.question,
            "start_from": spec.start_from,
            "overrides": dict(spec.overrides),
            "excluded_episodes": list(spec.record.exclude),
            "extra_episode_files": [Path(f).name for f in spec.episodes],
            "shocks": [describe(shock) for shock in spec.shock],
        }
        if spec.source is not None:
            scenario["file"] = spec.source.file
            scenario["sha256"] = spec.source.sha256
        return {
            "scenario": scenario,
            "seed": seed,
            "replicates": replicates,
            "package_version": __version__,
            "parameters": {
                "file": self.parameters.path.name,
                "sha256": self.parameters.sha256,
                "description": self.parameters.spec.description,
            },
            "library_sha256": self.library_sha256,
            "shock_templates_sha256": templates_sha256(),
            "span": {"start": month_label(months[0]), "end": month_label(months[-1])},
        }

    def comparison_entry(self) -> dict[str, Any]:
        """One side (baseline or scenario) of drift.json."""
        from multivector.inputs.shocks import describe

        spec = self.scenario
        source = self._source()
        return {
            "name": spec.name,
            "question": spec.question,
            "file": source.file,
            "sha256": source.sha256,
            "parameters": {"file": self.parameters.path.name, "sha256": self.parameters.sha256},
            "library_sha256": self.library_sha256,
            "shocks": [describe(shock) for shock in spec.shock],
            "excluded_episodes": list(spec.record.exclude),
            "overrides": dict(spec.overrides),
            "start_from": spec.start_from,
        }

    def manifest_entry(self) -> dict[str, Any]:
        """A scenario's entry in a sweep's manifest.json."""
        source = self._source()
        return {
            "name": self.scenario.name,
            "file": source.file,
            "sha256": source.sha256,
            "parameters": {"file": self.parameters.path.name, "sha256": self.parameters.sha256},
        }

    def _source(self) -> Source:
        if self.scenario.source is None:
            raise ValueError(f"scenario '{self.scenario.name}' was not read from a file")
        return self.scenario.source
