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
Sensor features for the context policy: pure functions on numpy arrays, free of ROS.

Each function turns one sensor reading into a few named numbers. A quantity that a reading
cannot measure (an empty image, a lidar sector without a usable beam, a NaN velocity) is left
out of the result rather than guessed: a guess would switch the robot's behaviour for a reason
that is not there, while a missing feature makes the rules over it neither enter nor exit. Every
value that is present is finite. Malformed input (wrong shape, dtype or encoding) raises
ValueError naming the problem, for the same reason.

The spill is found by colour: pixels whose OpenCV HSV value (H 0..179, S and V 0..255) lies in a
configured range. A lower hue above the upper hue means the range wraps through 0 (reds). The
slow zone, when its range is configured, is found the same way in its own colour and reported
as the zone_* features (fraction, centroid, visible).
"""

from dataclasses import dataclass
from dataclasses import fields
import functools
import math
from types import MappingProxyType
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple, Union

from adapter_switcher.context.checks import check_half_angle
from adapter_switcher.context.checks import check_hsv_range
from adapter_switcher.context.checks import check_sector
from adapter_switcher.context.checks import finite_number
from adapter_switcher.context.checks import HUE_MAX
from adapter_switcher.context.checks import real_number
import cv2
import numpy as np

FeatureValue = Union[float, bool]

# Every feature the extractors produce, with its type; rules may only name these.
FEATURE_KINDS: Mapping[str, type] = MappingProxyType({
    'spill_fraction': float,
    'spill_x': float,
    'spill_y': float,
    'spill_visible': bool,
    'front_min': float,
    'left_min': float,
    'right_min': float,
    'aisle_width': float,
    'speed': float,
    'yaw_rate': float,
    'zone_fraction': float,
    'zone_x': float,
    'zone_y': float,
    'zone_visible': bool,
})
FEATURE_NAMES = frozenset(FEATURE_KINDS)

# Defaults, shared by the functions' keyword arguments and FeatureConfig.
# Spill colour, as in config/context_rules.yaml and config/scenario.yaml: the cyan of the spill
# in worlds/warehouse.sdf, RGB (0, 0.8, 0.9), which is HSV (93, 255, 230) in OpenCV units.
SPILL_HSV_LOWER = (85, 150, 60)
SPILL_HSV_UPPER = (100, 255, 255)
SPILL_VISIBLE_FRACTION = 0.001
FRONT_HALF_ANGLE_DEG = 15.0
LEFT_SECTOR_DEG = (60.0, 120.0)
RIGHT_SECTOR_DEG = (-120.0, -60.0)
AISLE_SECTOR_DEG = (75.0, 105.0)
MAX_AGE_S = 1.0

# encoding -> (channels, OpenCV conversion to HSV of the first three channels; None: no colour)
_ENCODINGS = {
    'rgb8': (3, cv2.COLOR_RGB2HSV),
    'bgr8': (3, cv2.COLOR_BGR2HSV),
    'rgba8': (4, cv2.COLOR_RGB2HSV),
    'bgra8': (4, cv2.COLOR_BGR2HSV),
    'mono8': (1, None),
}
# Beam angles are computed in floating point: a beam meant to lie on a sector edge may land a
# hair outside it.
_ANGLE_TOLERANCE_DEG = 1e-6


def spill_features(image: np.ndarray, encoding: str, hsv_lower, hsv_upper, *,
                   visible_fraction: float = SPILL_VISIBLE_FRACTION) -> Dict[str, FeatureValue]:
    """
    Return the fraction and position of spill-coloured pixels in a camera image.

    ``image`` is (H, W, C) uint8 for rgb8/bgr8 (C 3) and rgba8/bgra8 (C 4), (H, W) or (H, W, 1)
    for mono8, already without row padding. Keys: spill_fraction (0..1), spill_x (centroid,
    -1 left .. +1 right), spill_y (centroid, 0 top .. 1 bottom, which is nearer the robot),
    spill_visible (fraction above ``visible_fraction``). A mono image has no colour, so no spill;
    an image without pixels measures nothing and returns an empty dict.
    """
    channels, conversion = _encoding(encoding)
    pixels = _check_image(image, encoding, channels)
    colour = check_hsv_range(hsv_lower, hsv_upper)
    floor = finite_number('visible_fraction', visible_fraction)
    return _colour_features(pixels, conversion, (colour,), floor)[0]


def _colour_features(pixels: np.ndarray, conversion: Optional[int], colours,
                     visible_fraction: float):
    """
    Return :func:`spill_features` for each checked (lower, upper) of ``colours``.

    ``pixels`` is a checked (H, W, C) image; it is converted to HSV once for all colours.
    """
    if pixels.size == 0:
        return [{} for _ in colours]
    if conversion is None:
        return [{'spill_fraction': 0.0, 'spill_x': 0.0, 'spill_y': 0.0, 'spill_visible': False}
                for _ in colours]
    hsv = cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), conversion)
    return [_mask_features(_in_hsv_range(hsv, lower, upper), visible_fraction)
            for lower, upper in colours]


def _encoding(encoding: str) -> Tuple[int, Optional[int]]:
    """Return (channels, HSV conversion) for a supported encoding, else raise ValueError."""
    if encoding not in _ENCODINGS:
        raise ValueError(f'unsupported image encoding {encoding!r}: '
                         f'use one of {", ".join(sorted(_ENCODINGS))}')
    return _ENCODINGS[encoding]


def _check_image(image, encoding: str, channels: int) -> np.ndarray:
    """Return ``image`` as (H, W, C) uint8, or raise ValueError saying what is wrong."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f'image must be a numpy array, got {type(image).__name__}')
    if image.dtype != np.uint8:
        raise ValueError(f'{encoding} image must be uint8, got {image.dtype}')
    if channels == 1 and image.ndim == 2:
        return image[:, :, np.newaxis]
    if image.ndim != 3 or image.shape[2] != channels:
        expected = '(H, W) or (H, W, 1)' if channels == 1 else f'(H, W, {channels})'
        raise ValueError(f'{encoding} image must have shape {expected}, got {image.shape}')
    return image


def _in_hsv_range(hsv: np.ndarray, lower, upper) -> np.ndarray:
    """Return the 0/255 mask of pixels in [lower, upper]; the hue wraps if lower > upper."""
    if lower[0] <= upper[0]:
        return cv2.inRange(hsv, lower, upper)
    high_hues = cv2.inRange(hsv, lower, (HUE_MAX, upper[1], upper[2]))
    low_hues = cv2.inRange(hsv, (0, lower[1], lower[2]), upper)
    return cv2.bitwise_or(high_hues, low_hues)


def _mask_features(mask: np.ndarray, visible_fraction: float) -> Dict[str, FeatureValue]:
    """Return the spill features of a non-empty 0/255 mask."""
    height, width = mask.shape
    count = cv2.countNonZero(mask)
    fraction = count / float(mask.size)
    spill_x = spill_y = 0.0
    if count:
        moments = cv2.moments(mask, binaryImage=True)
        column = moments['m10'] / moments['m00']
        row = moments['m01'] / moments['m00']
        # Pixel centres sit at index + 0.5, so a full mask has its centroid at exactly 0 / 0.5.
        spill_x = min(1.0, max(-1.0, 2.0 * (column + 0.5) / width - 1.0))
        spill_y = min(1.0, max(0.0, (row + 0.5) / height))
    return {'spill_fraction': fraction, 'spill_x': spill_x, 'spill_y': spill_y,
            'spill_visible': fraction > visible_fraction}


def lidar_features(ranges, angle_min: float, angle_increment: float, range_min: float,
                   range_max: float, *, front_half_angle_deg: float = FRONT_HALF_ANGLE_DEG,
                   left_sector_deg=LEFT_SECTOR_DEG, right_sector_deg=RIGHT_SECTOR_DEG,
                   aisle_sector_deg=AISLE_SECTOR_DEG) -> Dict[str, float]:
    """
    Return the sector minima and the aisle width of a planar laser scan, in metres.

    Beam i points at angle_min + i * angle_increment (radians, 0 ahead, positive to the left),
    any multiple of a turn. Readings follow REP 117: NaN is an error and ignored, +inf means no
    return (free up to range_max), -inf means too close to measure (range_min), and other values
    outside [range_min, range_max] are invalid and ignored.

    Keys: front_min (within +-front_half_angle_deg), left_min, right_min (the sectors, degrees
    from ahead), and aisle_width: the lateral clearance r * |sin(angle)| to each side over
    ``aisle_sector_deg`` (mirrored for the right), left plus right. A sector without a usable
    beam is left out, and so is aisle_width unless both sides were measured.
    """
    values = _check_ranges(ranges)
    start = finite_number('angle_min', angle_min)
    step = finite_number('angle_increment', angle_increment)
    if step == 0.0 and values.size > 1:
        raise ValueError('angle_increment is 0: every beam would point the same way')
    nearest = finite_number('range_min', range_min)
    farthest = finite_number('range_max', range_max)
    if not 0.0 <= nearest < farthest:
        raise ValueError(f'need 0 <= range_min < range_max, got {nearest:g} and {farthest:g}')
    half = check_half_angle('front_half_angle_deg', front_half_angle_deg)
    sectors = {
        'front_min': (-half, half),
        'left_min': check_sector('left_sector_deg', left_sector_deg),
        'right_min': check_sector('right_sector_deg', right_sector_deg),
    }
    aisle_from, aisle_to = check_sector('aisle_sector_deg', aisle_sector_deg, 0.0, 180.0)

    usable = np.where(values == np.inf, farthest, values)
    usable = np.where(usable == -np.inf, nearest, usable)
    usable = np.where((usable >= nearest) & (usable <= farthest), usable, np.nan)
    beams = _beams_in_sectors(values.size, start, step, tuple(sectors.values()),
                              (aisle_from, aisle_to))

    features = {}
    for name, inside in zip(sectors, beams.sectors):
        nearest_in_sector = _nan_min(usable[inside])
        if nearest_in_sector is not None:
            features[name] = nearest_in_sector
    left = _nan_min(usable[beams.aisle_left] * beams.aisle_left_sin)
    right = _nan_min(usable[beams.aisle_right] * beams.aisle_right_sin)
    if left is not None and right is not None and math.isfinite(left + right):
        features['aisle_width'] = left + right
    return features


class _SectorBeams(NamedTuple):
    """Which beams of a scan geometry lie in each sector, and |sin| of the aisle beams."""

    sectors: Tuple[np.ndarray, ...]     # beam indices per (front, left, right) sector
    aisle_left: np.ndarray
    aisle_left_sin: np.ndarray
    aisle_right: np.ndarray
    aisle_right_sin: np.ndarray


@functools.lru_cache(maxsize=16)
def _beams_in_sectors(count: int, start: float, step: float, sectors, aisle) -> _SectorBeams:
    """
    Return the beams of each sector for a scan geometry; computed once per geometry.

    A lidar's geometry does not change between scans, so the angles, their sines and the
    sector masks (about 40 array operations) are worked out once and each scan only gathers.
    """
    angles = start + step * np.arange(count)
    degrees = np.degrees(np.arctan2(np.sin(angles), np.cos(angles)))
    lateral = np.abs(np.sin(angles))

    def beams(low, high):
        inside = np.flatnonzero((degrees >= low - _ANGLE_TOLERANCE_DEG)
                                & (degrees <= high + _ANGLE_TOLERANCE_DEG))
        inside.setflags(write=False)
        return inside

    aisle_from, aisle_to = aisle
    left, right = beams(aisle_from, aisle_to), beams(-aisle_to, -aisle_from)
    left_sin, right_sin = lateral[left], lateral[right]
    left_sin.setflags(write=False)
    right_sin.setflags(write=False)
    return _SectorBeams(tuple(beams(low, high) for low, high in sectors), left, left_sin,
                        right, right_sin)


def _nan_min(values: np.ndarray) -> Optional[float]:
    """Return the smallest non-NaN value, or None if there is none."""
    if not values.size:
        return None
    smallest = float(np.fmin.reduce(values))
    return None if math.isnan(smallest) else smallest


def _check_ranges(ranges) -> np.ndarray:
    """Return the ranges as a 1-D float64 array, or raise ValueError."""
    try:
        values = np.asarray(ranges, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f'ranges must be a sequence of numbers: {error}') from None
    if values.ndim != 1:
        raise ValueError(f'ranges must be one-dimensional, got shape {values.shape}')
    return values


def odom_features(linear_x, linear_y, angular_z) -> Dict[str, float]:
    """
    Return speed (hypot of the planar velocity, m/s) and yaw_rate (rad/s) from odometry.

    A NaN or infinite component is unknown, so the feature that depends on it is left out.
    """
    vx = real_number('linear_x', linear_x)
    vy = real_number('linear_y', linear_y)
    wz = real_number('angular_z', angular_z)
    features = {'speed': math.hypot(vx, vy), 'yaw_rate': wz}
    return {name: value for name, value in features.items() if math.isfinite(value)}


@dataclass(frozen=True)
class FeatureSnapshot:
    """
    The named features at one instant: what the policy decides on.

    ``values`` is copied into a read-only mapping of finite floats and bools (numpy scalars are
    converted), so a snapshot can be kept, compared and replayed without surprises. A known
    feature must have its declared type (FEATURE_KINDS); other names are carried through.
    """

    stamp: float
    values: Mapping[str, FeatureValue]

    def __post_init__(self):
        clean = {}
        for name, value in dict(self.values).items():
            if not isinstance(name, str):
                raise ValueError(f'feature names must be strings, got {name!r}')
            clean[name] = _snapshot_value(name, value)
        object.__setattr__(self, 'stamp', finite_number('stamp', self.stamp))
        object.__setattr__(self, 'values', MappingProxyType(clean))


def _snapshot_value(name: str, value) -> FeatureValue:
    """Return a feature value in canonical form, or raise ValueError naming the feature."""
    kind = FEATURE_KINDS.get(name)
    if type(value) is float and kind is not bool and math.isfinite(value):
        return value    # what the extractors give: checked in one step, every tick
    is_bool = isinstance(value, (bool, np.bool_))
    if is_bool and kind is not float:
        return bool(value)
    if kind is bool:
        raise ValueError(f'feature {name} must be a bool, got {value!r}')
    return finite_number(f'feature {name}', value)


@dataclass(frozen=True)
class FeatureConfig:
    """
    How the extractors read the sensors; the ``features`` section of the rules file.

    hsv_lower/hsv_upper: the spill colour in OpenCV HSV (H 0..179, S and V 0..255), a lower hue
    above the upper one wrapping through red. spill_visible_fraction: the fraction above which
    spill_visible is true. front_half_angle_deg, left_sector_deg, right_sector_deg: the lidar
    sectors in degrees (0 ahead, positive left). aisle_sector_deg: the window on the left side
    (mirrored on the right) for the lateral clearance. max_age_s: a sensor's features leave the
    snapshot once they are older than this (None: never), so a dead sensor cannot hold a stale
    context forever. zone_hsv_lower/zone_hsv_upper: the slow zone's colour (None: no zone_*
    features), read with the same visible fraction as the spill.
    """

    hsv_lower: Tuple[int, int, int] = SPILL_HSV_LOWER
    hsv_upper: Tuple[int, int, int] = SPILL_HSV_UPPER
    spill_visible_fraction: float = SPILL_VISIBLE_FRACTION
    front_half_angle_deg: float = FRONT_HALF_ANGLE_DEG
    left_sector_deg: Tuple[float, float] = LEFT_SECTOR_DEG
    right_sector_deg: Tuple[float, float] = RIGHT_SECTOR_DEG
    aisle_sector_deg: Tuple[float, float] = AISLE_SECTOR_DEG
    max_age_s: Optional[float] = MAX_AGE_S
    zone_hsv_lower: Optional[Tuple[int, int, int]] = None
    zone_hsv_upper: Optional[Tuple[int, int, int]] = None

    def __post_init__(self):
        lower, upper = check_hsv_range(self.hsv_lower, self.hsv_upper)
        zone = (self.zone_hsv_lower, self.zone_hsv_upper)
        if (zone[0] is None) != (zone[1] is None):
            raise ValueError('zone_hsv_lower and zone_hsv_upper go together: give both or none')
        if zone[0] is not None:
            zone = check_hsv_range(*zone)
        fraction = finite_number('spill_visible_fraction', self.spill_visible_fraction)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f'spill_visible_fraction must be in [0, 1), got {fraction:g}')
        max_age = self.max_age_s
        if max_age is not None:
            max_age = finite_number('max_age_s', max_age)
            if max_age <= 0.0:
                raise ValueError(f'max_age_s must be positive (or null: never), got {max_age:g}')
        canonical = {
            'hsv_lower': lower,
            'hsv_upper': upper,
            'spill_visible_fraction': fraction,
            'front_half_angle_deg': check_half_angle('front_half_angle_deg',
                                                     self.front_half_angle_deg),
            'left_sector_deg': check_sector('left_sector_deg', self.left_sector_deg),
            'right_sector_deg': check_sector('right_sector_deg', self.right_sector_deg),
            'aisle_sector_deg': check_sector('aisle_sector_deg', self.aisle_sector_deg, 0.0,
                                             180.0),
            'max_age_s': max_age,
            'zone_hsv_lower': zone[0],
            'zone_hsv_upper': zone[1],
        }
        for name, value in canonical.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> 'FeatureConfig':
        """Return the config for a mapping of field names (unknown names raise ValueError)."""
        if not isinstance(data, Mapping):
            raise ValueError(f'expected a mapping of feature settings, got {data!r}')
        known = [field.name for field in fields(cls)]
        for name in data:
            if name not in known:
                raise ValueError(f'{name}: unknown setting (known: {", ".join(known)})')
        return cls(**data)


class FeatureExtractor:
    """
    Keep the latest features of each sensor and merge them into snapshots.

    The ROS node feeds each message to an ``update_*`` method and asks for a snapshot on its
    decision tick. An update with bad input raises ValueError and leaves the stored features as
    they were. A snapshot holds the features of every sensor seen within ``max_age_s`` of its
    stamp; a sensor never seen, or gone quiet, contributes nothing.
    """

    def __init__(self, config: Optional[FeatureConfig] = None):
        self._config = config if config is not None else FeatureConfig()
        self._latest: Dict[str, Tuple[float, Dict[str, FeatureValue]]] = {}

    @property
    def config(self) -> FeatureConfig:
        """Return the settings the features are extracted with."""
        return self._config

    def update_scan(self, ranges, angle_min: float, angle_increment: float, range_min: float,
                    range_max: float, stamp: float) -> Dict[str, float]:
        """Extract and keep the lidar features of one scan; return them."""
        when = finite_number('stamp', stamp)
        config = self._config
        features = lidar_features(
            ranges, angle_min, angle_increment, range_min, range_max,
            front_half_angle_deg=config.front_half_angle_deg,
            left_sector_deg=config.left_sector_deg, right_sector_deg=config.right_sector_deg,
            aisle_sector_deg=config.aisle_sector_deg)
        return self._keep('scan', when, features)

    def update_image(self, image: np.ndarray, encoding: str, stamp: float
                     ) -> Dict[str, FeatureValue]:
        """Extract and keep the spill (and zone) features of one image; return them."""
        when = finite_number('stamp', stamp)
        config = self._config
        channels, conversion = _encoding(encoding)
        pixels = _check_image(image, encoding, channels)
        # The config's colours are checked already; one HSV conversion serves both.
        colours = [(config.hsv_lower, config.hsv_upper)]
        if config.zone_hsv_lower is not None:
            colours.append((config.zone_hsv_lower, config.zone_hsv_upper))
        features, *zone = _colour_features(pixels, conversion, colours,
                                           config.spill_visible_fraction)
        if zone:
            features.update((name.replace('spill_', 'zone_'), value)
                            for name, value in zone[0].items())
        return self._keep('image', when, features)

    def update_odom(self, linear_x: float, linear_y: float, angular_z: float, stamp: float
                    ) -> Dict[str, float]:
        """Extract and keep the odometry features; return them."""
        when = finite_number('stamp', stamp)
        return self._keep('odom', when, odom_features(linear_x, linear_y, angular_z))

    def _keep(self, sensor: str, stamp: float, features: Dict[str, FeatureValue]):
        self._latest[sensor] = (stamp, features)
        return dict(features)

    def snapshot(self, stamp: float) -> FeatureSnapshot:
        """Return the features of every sensor heard from within max_age_s of ``stamp``."""
        when = finite_number('stamp', stamp)
        max_age = self._config.max_age_s
        values: Dict[str, FeatureValue] = {}
        for seen_at, features in self._latest.values():
            if max_age is None or when - seen_at <= max_age:
                values.update(features)
        return FeatureSnapshot(when, values)
