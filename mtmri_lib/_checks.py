"""Input checks shared by the library: one place, one style of message.

Each message names the parameter, what is allowed and the value that was given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "check_image",
    "check_number",
    "check_int",
    "check_choice",
    "check_pair",
    "check_axis",
    "to_rng",
    "profile_name",
    "scale_settings",
]

T = TypeVar("T")


def to_rng(rng: np.random.Generator | int | None, name: str = "rng") -> np.random.Generator:
    """Normalise ``rng`` (a Generator, a non-negative int seed or None) to a Generator.

    Raises
    ------
    TypeError
        For any other type (bools, floats, legacy ``RandomState`` objects included).
    ValueError
        For a negative seed, which numpy refuses without naming the parameter.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    allowed = "a numpy.random.Generator, a non-negative int seed or None"
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        # Scalars are shown; other objects (SeedSequence, RandomState) by their type alone.
        simple = isinstance(rng, (bool, float, complex, str, bytes, np.generic))
        shown = f"{rng!r} ({type(rng).__name__})" if simple else f"a {type(rng).__name__}"
        raise TypeError(f"{name} must be {allowed}; got {shown}")
    if rng < 0:
        raise ValueError(f"{name} must be {allowed}; got {int(rng)}")
    return np.random.default_rng(int(rng))


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """Return ``image`` as a 2-D, non-empty, finite float or complex array, or raise."""
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be a 2-D numeric array; got {type(image).__name__}")
    try:
        array = np.asarray(image)
    except (ValueError, TypeError) as error:
        # Ragged nested lists: numpy's message does not say which argument was ragged.
        raise ValueError(
            f"{name} must be a 2-D numeric array; got {type(image).__name__} "
            f"that numpy cannot read as one ({error})"
        ) from None
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.number) and not np.issubdtype(array.dtype, np.timedelta64)
    ):
        raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (H, W); got shape {array.shape}")
    if array.size == 0 or min(array.shape) < 2:
        raise ValueError(f"{name} must be at least 2x2; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float64)
    return array


def check_number(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a float inside the interval, or raise naming the interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be finite; got {value}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}; got {value:g}")
    return value


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in [low, high], or raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}]; got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value}")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, or raise listing them."""
    allowed = tuple(allowed)
    if not any(value == a and type(value) is type(a) for a in allowed) and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def check_pair(name: str, value: Any) -> tuple[float, float]:
    """Return ``value`` as a (low, high) tuple of finite floats with low <= high, or raise."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a (min, max) pair; got {value!r}")
    items = tuple(value)
    if len(items) != 2:
        raise ValueError(f"{name} must be a (min, max) pair; got {len(items)} values: {value!r}")
    low, high = (check_number(f"{name}[{i}]", v) for i, v in enumerate(items))
    if low > high:
        raise ValueError(f"{name} must have min <= max; got {value!r}")
    return low, high


def check_axis(name: str, value: Any, ndim: int = 2) -> int:
    """Return ``value`` as an int array axis in [0, ndim - 1], or raise.

    Python and numpy integers are accepted. Bools and floats are refused, even ``True`` or
    ``1.0``: an axis is an index, and a float axis is more likely a mix-up of arguments.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name} must be an integer array axis in [0, {ndim - 1}]; "
            f"got {value!r} ({type(value).__name__})"
        )
    value = int(value)
    if not 0 <= value < ndim:
        raise ValueError(f"{name} must lie in [0, {ndim - 1}]; got {value}")
    return value


def profile_name(profile: Any) -> str:
    """The name of a profile given by name or as a `mtmri_lib.profiles.Profile` (any object
    with a string ``name``)."""
    name = profile if isinstance(profile, str) else getattr(profile, "name", None)
    if not isinstance(name, str):
        raise TypeError(
            f"profile must be a profile name or a Profile; got {type(profile).__name__}"
        )
    return name


def scale_settings(profile: Any, part: str, named: Mapping[str, T], kind: type[T]) -> T:
    """One layer's settings of a profile, without importing the profile layer.

    ``profile`` is a settings object of that layer (returned as it is), a name looked up in
    the layer's own ``named`` table, or a `mtmri_lib.profiles.Profile`, whose attribute
    ``part`` holds the settings it composes (so ``profile.with_(...)`` reaches every layer).
    An unknown name raises; there is no silent fallback.
    """
    if isinstance(profile, kind):
        return profile
    composed = getattr(profile, part, None)
    if isinstance(composed, kind):
        return composed
    name = profile_name(profile)
    if name not in named:
        raise ValueError(f"profile must be one of {', '.join(named)}; got {name!r}")
    return named[name]
