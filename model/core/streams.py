"""Per-replicate random streams keyed by (seed, replicate).

Every random number the dynamics use is a pure function of the run's seed, the replicate
number, the decision it is drawn for and the player drawing it. A counter-based generator of
this kind (the SplitMix64 finaliser applied to a hashed key) can be evaluated for a whole batch
of replicates at once with vectorised integer arithmetic, and gives replicate k the same numbers
whether it runs alone or in a batch of any size, in any order, on any worker.
"""

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a bijective, well-avalanched 64-bit mix."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def key_word(key: str) -> int:
    """A stable 64-bit integer for a text key (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


def uniforms(seed: int, replicates: np.ndarray, key: str, player: int) -> np.ndarray:
    """One uniform number in [0, 1) per replicate for a given draw.

    Args:
        seed: The run's seed.
        replicates: Replicate numbers, shape (R,).
        key: What the draw is for (a decision key and month).
        player: Which actor draws.

    Returns:
        Array of shape (R,), float64.

    """
    with np.errstate(over="ignore"):
        base = _mix(np.uint64(seed % 2**64) + _GOLDEN)
        x = _mix(base ^ (replicates.astype(np.uint64) * _GOLDEN + np.uint64(1)))
        x = _mix(x ^ np.uint64(key_word(key)))
        x = _mix(x + np.uint64(player + 1) * _GOLDEN)
    return (x >> np.uint64(11)).astype(np.float64) * _TO_UNIT
