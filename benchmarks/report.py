"""How the benchmark scripts print their figures."""

import json
from typing import Any


def emit(result: dict[str, Any], as_json: bool) -> None:
    """Print one JSON object, or one aligned ``name: value`` line per figure."""
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>20}: {value}")
