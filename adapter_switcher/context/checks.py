# Copyright 2026 The adapter_switcher Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Argument checks shared by the feature extractors, the rules loader and the scenarios.

Each check returns the value in canonical form or raises ValueError whose message starts with the
argument's name, so a caller can prefix where the value came from (a file, a field).
"""

import math
import numbers
from typing import Tuple

import numpy as np

HUE_MAX = 179
SAT_VAL_MAX = 255


# Exact types that are real numbers and not bools: checked first, since the ABC check below
# costs microseconds and runs for every feature of every control tick.
_PLAIN_REALS = frozenset((float, int, np.float64, np.float32, np.int64, np.int32))


def real_number(name: str, value) -> float:
    """Return ``value`` as a float, or raise ValueError naming ``name`` if it is not a number."""
    if type(value) in _PLAIN_REALS:
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f'{name} must be a number, got {value!r}')
    return float(value)


def finite_number(name: str, value) -> float:
    """Return ``value`` as a finite float, or raise ValueError naming ``name``."""
    number = real_number(name, value)
    if not math.isfinite(number):
        raise ValueError(f'{name} must be finite, got {number}')
    return number


def _sequence(name: str, value, length: int, what: str):
    """Return ``value`` if it is a sequence of ``length`` items, else raise ValueError."""
    if isinstance(value, (str, bytes)) or not hasattr(value, '__len__') or len(value) != length:
        raise ValueError(f'{name} must be {what}, got {value!r}')
    return value


def check_hsv_range(hsv_lower, hsv_upper) -> Tuple[Tuple[int, int, int], Tuple[int, int, int]]:
    """
    Return the HSV bounds as int triples, or raise ValueError naming the bad bound.

    Saturation and value need lower <= upper; hue may have lower > upper, which wraps.
    """
    bounds = []
    for name, triple in (('hsv_lower', hsv_lower), ('hsv_upper', hsv_upper)):
        items = _sequence(name, triple, 3, 'three integers [H, S, V]')
        values = []
        for channel, limit, item in zip('HSV', (HUE_MAX, SAT_VAL_MAX, SAT_VAL_MAX), items):
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral):
                raise ValueError(f'{name}: {channel} must be an integer, got {item!r}')
            if not 0 <= item <= limit:
                raise ValueError(f'{name}: {channel} {item} is outside 0..{limit} (OpenCV HSV)')
            values.append(int(item))
        bounds.append(tuple(values))
    lower, upper = bounds
    for index, channel in ((1, 'S'), (2, 'V')):
        if lower[index] > upper[index]:
            raise ValueError(f'hsv_lower {channel} {lower[index]} is above hsv_upper '
                             f'{channel} {upper[index]} (only the hue range may wrap)')
    return lower, upper


def check_sector(name: str, sector, low: float = -180.0, high: float = 180.0
                 ) -> Tuple[float, float]:
    """Return a [from, to] angle pair in degrees, or raise ValueError naming ``name``."""
    pair = _sequence(name, sector, 2, 'two angles [from, to] in degrees')
    start, end = (finite_number(name, angle) for angle in pair)
    if not low <= start < end <= high:
        raise ValueError(f'{name} must satisfy {low:g} <= from < to <= {high:g}, '
                         f'got [{start:g}, {end:g}]')
    return start, end


def check_half_angle(name: str, value) -> float:
    """Return a sector half-angle in degrees, or raise ValueError if it is not in (0, 180]."""
    angle = finite_number(name, value)
    if not 0.0 < angle <= 180.0:
        raise ValueError(f'{name} must be in (0, 180] degrees, got {angle:g}')
    return angle
