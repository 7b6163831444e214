"""The six states of the model and their codes."""

from typing import Literal

ActorCode = Literal["KAZ", "RUS", "USA", "CHN", "BLR", "UKR"]

ACTORS: tuple[str, ...] = ("KAZ", "RUS", "USA", "CHN", "BLR", "UKR")
"""Actor codes in the fixed order used by every array in the model."""

ACTOR_NAMES: dict[str, str] = {
    "KAZ": "Kazakhstan",
    "RUS": "Russia",
    "USA": "United States",
    "CHN": "China",
    "BLR": "Belarus",
    "UKR": "Ukraine",
}

INDEX: dict[str, int] = {code: i for i, code in enumerate(ACTORS)}
"""Position of each actor code in the model's arrays."""

KAZAKHSTAN = INDEX["KAZ"]

POLES: tuple[str, ...] = ("RUS", "CHN", "USA")
"""The three poles Kazakhstan balances between."""

N_ACTORS = len(ACTORS)
