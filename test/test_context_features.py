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

"""Feature extractors: synthetic images, scans and odometry with known answers, and bad input."""

import math
import re

from adapter_switcher.context.features import FEATURE_NAMES
from adapter_switcher.context.features import FeatureConfig
from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.features import lidar_features
from adapter_switcher.context.features import odom_features
from adapter_switcher.context.features import spill_features
import numpy as np
import pytest

# A bright orange-yellow, RGB (255, 170, 0) = OpenCV HSV (20, 255, 255), and a range around it.
ORANGE = (255, 170, 0)
ORANGE_LOWER = (12, 150, 100)
ORANGE_UPPER = (28, 255, 255)
GREY = (128, 128, 128)
HEIGHT, WIDTH = 120, 160


def rgb_image(blobs, background=GREY):
    """Return an RGB image with the given ``(colour, rows slice, cols slice)`` blobs drawn."""
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:, :] = background
    for colour, rows, cols in blobs:
        image[rows, cols] = colour
    return image


def as_encoding(rgb, encoding):
    """Return the RGB image in the layout of ``encoding``."""
    bgr = rgb[:, :, ::-1]
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.ascontiguousarray({
        'rgb8': rgb, 'bgr8': bgr,
        'rgba8': np.concatenate([rgb, alpha], axis=2),
        'bgra8': np.concatenate([bgr, alpha], axis=2),
    }[encoding])


def expected_blob(rows, cols):
    """Return the spill fraction, x and y that one rectangular blob must give."""
    fraction = (rows.stop - rows.start) * (cols.stop - cols.start) / (HEIGHT * WIDTH)
    column = (cols.start + cols.stop - 1) / 2.0
    row = (rows.start + rows.stop - 1) / 2.0
    return fraction, 2.0 * (column + 0.5) / WIDTH - 1.0, (row + 0.5) / HEIGHT


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
@pytest.mark.parametrize('rows, cols', [
    (slice(60, 90), slice(100, 140)),   # right of centre, lower half
    (slice(100, 120), slice(0, 30)),    # bottom-left corner: near, to the left
])
def test_spill_blob_fraction_and_position(encoding, rows, cols):
    image = as_encoding(rgb_image([(ORANGE, rows, cols)]), encoding)
    features = spill_features(image, encoding, ORANGE_LOWER, ORANGE_UPPER)
    fraction, spill_x, spill_y = expected_blob(rows, cols)
    assert features['spill_fraction'] == pytest.approx(fraction)
    assert features['spill_x'] == pytest.approx(spill_x)
    assert features['spill_y'] == pytest.approx(spill_y)
    assert features['spill_visible'] is True


def test_other_colours_are_not_spill():
    # Red, yellow-green, dark orange (V too low) and washed-out orange (S too low).
    blobs = [((255, 0, 0), slice(0, 20), slice(0, 20)),
             ((170, 255, 0), slice(0, 20), slice(40, 60)),
             ((60, 40, 0), slice(40, 60), slice(0, 20)),
             ((255, 230, 200), slice(40, 60), slice(40, 60))]
    features = spill_features(rgb_image(blobs), 'rgb8', ORANGE_LOWER, ORANGE_UPPER)
    assert features == {'spill_fraction': 0.0, 'spill_x': 0.0, 'spill_y': 0.0,
                        'spill_visible': False}


def test_hue_range_wraps_through_red_when_lower_hue_is_above_upper():
    red = ((255, 0, 0), slice(0, 10), slice(0, 160))        # H 0
    crimson = ((255, 0, 40), slice(10, 20), slice(0, 160))  # H 175
    green = ((0, 255, 0), slice(20, 30), slice(0, 160))     # H 60
    image = rgb_image([red, crimson, green])
    wrapped = spill_features(image, 'rgb8', (170, 150, 100), (10, 255, 255))
    assert wrapped['spill_fraction'] == pytest.approx(20 / HEIGHT)
    # The complement, 10..170, holds the green only.
    plain = spill_features(image, 'rgb8', (11, 150, 100), (169, 255, 255))
    assert plain['spill_fraction'] == pytest.approx(10 / HEIGHT)


def test_visible_needs_more_than_the_floor():
    one_pixel = rgb_image([(ORANGE, slice(0, 1), slice(0, 1))])
    fraction = 1 / (HEIGHT * WIDTH)
    below = spill_features(one_pixel, 'rgb8', ORANGE_LOWER, ORANGE_UPPER,
                           visible_fraction=fraction)
    above = spill_features(one_pixel, 'rgb8', ORANGE_LOWER, ORANGE_UPPER,
                           visible_fraction=fraction / 2)
    assert below['spill_fraction'] == above['spill_fraction'] == pytest.approx(fraction)
    assert (below['spill_visible'], above['spill_visible']) == (False, True)


@pytest.mark.parametrize('shape', [(HEIGHT, WIDTH), (HEIGHT, WIDTH, 1)])
def test_mono_image_has_no_colour_so_no_spill(shape):
    image = np.full(shape, 200, np.uint8)
    assert spill_features(image, 'mono8', ORANGE_LOWER, ORANGE_UPPER) == {
        'spill_fraction': 0.0, 'spill_x': 0.0, 'spill_y': 0.0, 'spill_visible': False}


def test_an_image_without_pixels_measures_nothing():
    empty = np.zeros((0, WIDTH, 3), np.uint8)
    assert spill_features(empty, 'rgb8', ORANGE_LOWER, ORANGE_UPPER) == {}


@pytest.mark.parametrize('image, encoding, message', [
    (np.zeros((4, 4, 3), np.float32), 'rgb8', 'must be uint8'),
    (np.zeros((4, 4, 4), np.uint8), 'rgb8', 'must have shape (H, W, 3)'),
    (np.zeros((4, 4), np.uint8), 'bgr8', 'must have shape (H, W, 3)'),
    (np.zeros((4, 4, 3), np.uint8), 'mono8', 'must have shape (H, W) or (H, W, 1)'),
    (np.zeros((2, 4, 4, 3), np.uint8), 'rgb8', 'must have shape'),
    ([[0, 0, 0]], 'rgb8', 'must be a numpy array'),
    (np.zeros((4, 4, 3), np.uint8), 'yuv422', "unsupported image encoding 'yuv422'"),
])
def test_malformed_images_are_refused_with_the_reason(image, encoding, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        spill_features(image, encoding, ORANGE_LOWER, ORANGE_UPPER)


@pytest.mark.parametrize('lower, upper, message', [
    ((180, 0, 0), (20, 255, 255), 'hsv_lower: H 180 is outside 0..179'),
    ((10, 200, 0), (20, 100, 255), 'hsv_lower S 200 is above hsv_upper S 100'),
    ((10, 0), (20, 255, 255), 'hsv_lower must be three integers'),
    ((10, 0, 0), (20, 255, 255.0), 'hsv_upper: V must be an integer'),
])
def test_bad_colour_ranges_are_refused(lower, upper, message):
    image = rgb_image([])
    with pytest.raises(ValueError, match=re.escape(message)):
        spill_features(image, 'rgb8', lower, upper)


def box_scan(left, right, front, back, beams=720, angle_min=-math.pi, direction=1.0,
             range_max=10.0):
    """Return (ranges, angle_min, angle_increment) of a lidar at the origin in a box of walls."""
    increment = direction * 2.0 * math.pi / beams
    angles = angle_min + increment * np.arange(beams)
    cos, sin = np.cos(angles), np.sin(angles)
    with np.errstate(divide='ignore'):
        hits = [np.where(cos > 1e-12, front / cos, np.inf),
                np.where(cos < -1e-12, -back / cos, np.inf),
                np.where(sin > 1e-12, left / sin, np.inf),
                np.where(sin < -1e-12, -right / sin, np.inf)]
    ranges = np.min(hits, axis=0)
    return np.where(ranges > range_max, np.inf, ranges), angle_min, increment


WALLS = {'left': 1.0, 'right': 0.8, 'front': 2.5, 'back': 3.0}
WALL_FEATURES = {'front_min': 2.5, 'left_min': 1.0, 'right_min': 0.8, 'aisle_width': 1.8}


@pytest.mark.parametrize('angle_min, direction', [
    (-math.pi, 1.0),       # -180..180 degrees, counter-clockwise
    (0.0, 1.0),            # 0..360 degrees: angles wrap
    (math.pi, -1.0),       # clockwise, as some lidars report
])
def test_walls_at_known_distances(angle_min, direction):
    ranges, start, increment = box_scan(**WALLS, angle_min=angle_min, direction=direction)
    features = lidar_features(ranges, start, increment, 0.05, 10.0)
    assert features == pytest.approx(WALL_FEATURES, abs=1e-9)


def test_sector_settings_move_the_sectors():
    # A wall only ahead-left at 45 degrees: outside the default sectors, inside a wide front.
    ranges, start, increment = box_scan(left=20.0, right=20.0, front=20.0, back=20.0,
                                        range_max=30.0)
    ranges[(np.abs(np.degrees(start + increment * np.arange(ranges.size)) - 45.0)) < 0.3] = 1.5
    default = lidar_features(ranges, start, increment, 0.05, 30.0)
    wide = lidar_features(ranges, start, increment, 0.05, 30.0, front_half_angle_deg=50.0)
    assert default['front_min'] == pytest.approx(20.0)
    assert wide['front_min'] == pytest.approx(1.5)


def test_invalid_readings_follow_rep_117():
    ranges, start, increment = box_scan(**WALLS)
    degrees = np.degrees(start + increment * np.arange(ranges.size))
    front = np.abs(degrees) <= 16.0
    ranges[front] = np.inf                          # no return: free up to range_max
    ranges[np.argmin(np.abs(degrees))] = np.nan     # an error: ignored
    ranges[np.argmin(np.abs(degrees - 5.0))] = 0.01  # below range_min: invalid, ignored
    ranges[np.argmin(np.abs(degrees - 10.0))] = 50.0  # beyond range_max: invalid, ignored
    ranges[np.argmin(np.abs(degrees - 90.0))] = -np.inf  # too close to measure: range_min
    features = lidar_features(ranges, start, increment, 0.05, 10.0)
    assert features['front_min'] == 10.0
    assert features['left_min'] == 0.05
    assert features['right_min'] == pytest.approx(0.8)


@pytest.mark.parametrize('ranges, angle_min, expected_keys', [
    (np.full(360, np.nan), -math.pi, set()),            # a blinded scanner
    (np.array([]), -math.pi, set()),                    # no beams at all
    (np.full(61, 2.0), math.radians(-30.0), {'front_min'}),  # a 60-degree scanner
])
def test_sectors_without_a_usable_beam_are_left_out(ranges, angle_min, expected_keys):
    increment = math.radians(1.0) if ranges.size != 360 else 2 * math.pi / 360
    assert set(lidar_features(ranges, angle_min, increment, 0.05, 10.0)) == expected_keys


@pytest.mark.parametrize('kwargs, message', [
    ({'ranges': np.ones((2, 3))}, 'ranges must be one-dimensional'),
    ({'ranges': ['near', 'far']}, 'ranges must be a sequence of numbers'),
    ({'angle_increment': 0.0}, 'angle_increment is 0'),
    ({'angle_min': float('nan')}, 'angle_min must be finite'),
    ({'range_min': 5.0, 'range_max': 1.0}, 'need 0 <= range_min < range_max'),
    ({'range_max': float('inf')}, 'range_max must be finite'),
    ({'left_sector_deg': (120.0, 60.0)}, 'left_sector_deg must satisfy'),
    ({'aisle_sector_deg': (-10.0, 10.0)}, 'aisle_sector_deg must satisfy 0 <= from'),
    ({'front_half_angle_deg': 0.0}, 'front_half_angle_deg must be in (0, 180]'),
])
def test_malformed_scans_are_refused_with_the_reason(kwargs, message):
    args = {'ranges': np.ones(10), 'angle_min': 0.0, 'angle_increment': 0.1,
            'range_min': 0.05, 'range_max': 10.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        lidar_features(**args)


def test_garbage_scans_and_images_never_give_non_finite_features():
    rng = np.random.default_rng(7)
    specials = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e300, 1e-300])
    for _ in range(200):
        size = int(rng.integers(0, 50))
        ranges = rng.uniform(-5.0, 50.0, size)
        picks = rng.random(size) < 0.3
        ranges[picks] = rng.choice(specials, picks.sum())
        range_min = float(rng.uniform(0.0, 1.0))
        features = lidar_features(ranges, float(rng.uniform(-10, 10)),
                                  float(rng.uniform(-1, 1)) or 0.1, range_min,
                                  range_min + float(rng.uniform(0.1, 1e6)))
        assert all(math.isfinite(value) for value in features.values()), features
        image = rng.integers(0, 256, (int(rng.integers(0, 8)), 5, 3), dtype=np.uint8)
        spill = spill_features(image, 'rgb8', ORANGE_LOWER, ORANGE_UPPER)
        assert all(math.isfinite(value) for value in spill.values()), spill


def reference_lidar_features(ranges, angle_min, increment, range_min, range_max):
    """Return the default sectors' lidar features, beam by beam in plain Python (the spec)."""
    sectors = {'front_min': (-15.0, 15.0), 'left_min': (60.0, 120.0),
               'right_min': (-120.0, -60.0)}
    found = {name: [] for name in sectors}
    lateral = {'left': [], 'right': []}
    for index, reading in enumerate(float(r) for r in ranges):
        if reading == math.inf:
            reading = range_max
        elif reading == -math.inf:
            reading = range_min
        if not range_min <= reading <= range_max:     # NaN too
            continue
        angle = angle_min + increment * index
        degrees = math.degrees(math.atan2(math.sin(angle), math.cos(angle)))
        for name, (low, high) in sectors.items():
            if low - 1e-6 <= degrees <= high + 1e-6:
                found[name].append(reading)
        for side, (low, high) in (('left', (75.0, 105.0)), ('right', (-105.0, -75.0))):
            if low - 1e-6 <= degrees <= high + 1e-6:
                lateral[side].append(reading * abs(math.sin(angle)))
    features = {name: min(values) for name, values in found.items() if values}
    if lateral['left'] and lateral['right']:
        features['aisle_width'] = min(lateral['left']) + min(lateral['right'])
    return features


def test_lidar_features_match_a_beam_by_beam_reference_scan_after_scan():
    # Each geometry is used for several scans in a row, as a lidar does, and geometries
    # alternate: what one scan or geometry measured must never show in another's features.
    rng = np.random.default_rng(11)
    specials = np.array([np.nan, np.inf, -np.inf, -1.0, 50.0])
    geometries = [(int(rng.integers(1, 800)), float(rng.uniform(-7, 7)),
                   float(rng.choice([-1, 1]) * rng.uniform(1e-3, 0.05))) for _ in range(6)]
    for trial in range(120):
        count, angle_min, increment = geometries[trial % len(geometries)]
        ranges = rng.uniform(0.0, 12.0, count)
        picks = rng.random(count) < 0.2
        ranges[picks] = rng.choice(specials, picks.sum())
        got = lidar_features(ranges, angle_min, increment, 0.05, 10.0)
        want = reference_lidar_features(ranges, angle_min, increment, 0.05, 10.0)
        assert got.keys() == want.keys()
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_one_image_gives_the_spill_and_zone_of_their_own_colour_ranges():
    rng = np.random.default_rng(5)
    zone_lower, zone_upper = (140, 120, 60), (170, 255, 255)
    extractor = FeatureExtractor(FeatureConfig(hsv_lower=ORANGE_LOWER, hsv_upper=ORANGE_UPPER,
                                               zone_hsv_lower=zone_lower,
                                               zone_hsv_upper=zone_upper))
    for encoding in ('rgb8', 'bgra8', 'mono8'):
        for _ in range(5):
            image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            image[rng.integers(0, 24):, :rng.integers(1, 32)] = ORANGE
            image[:rng.integers(1, 24), rng.integers(0, 32):] = (230, 0, 200)   # magenta
            pixels = (image[:, :, 0] if encoding == 'mono8'
                      else as_encoding(image, encoding))
            got = extractor.update_image(pixels, encoding, 1.0)
            spill = spill_features(pixels, encoding, ORANGE_LOWER, ORANGE_UPPER)
            zone = spill_features(pixels, encoding, zone_lower, zone_upper)
            assert got == dict(spill, **{k.replace('spill_', 'zone_'): v
                                         for k, v in zone.items()})


def test_odometry_speed_and_yaw_rate():
    assert odom_features(0.3, -0.4, 0.25) == pytest.approx({'speed': 0.5, 'yaw_rate': 0.25})
    assert odom_features(float('nan'), 0.0, 0.1) == {'yaw_rate': 0.1}
    assert odom_features(0.1, 0.0, float('inf')) == {'speed': 0.1}
    with pytest.raises(ValueError, match='linear_x must be a number'):
        odom_features('fast', 0.0, 0.0)


def test_every_extracted_feature_is_a_known_name():
    ranges, start, increment = box_scan(**WALLS)
    image = rgb_image([(ORANGE, slice(0, 10), slice(0, 10))])
    with_zone = FeatureExtractor(FeatureConfig(zone_hsv_lower=ORANGE_LOWER,
                                               zone_hsv_upper=ORANGE_UPPER))
    names = (set(lidar_features(ranges, start, increment, 0.05, 10.0))
             | set(spill_features(image, 'rgb8', ORANGE_LOWER, ORANGE_UPPER))
             | set(with_zone.update_image(image, 'rgb8', 0.0))
             | set(odom_features(0.1, 0.0, 0.0)))
    assert names == FEATURE_NAMES


def test_zone_features_come_from_their_own_colour_range():
    image = rgb_image([(ORANGE, slice(0, 10), slice(0, 10))])
    plain = FeatureExtractor().update_image(image, 'rgb8', 0.0)
    assert not any(name.startswith('zone_') for name in plain)
    zone = FeatureExtractor(FeatureConfig(zone_hsv_lower=ORANGE_LOWER,
                                          zone_hsv_upper=ORANGE_UPPER))
    seen = zone.update_image(image, 'rgb8', 0.0)
    assert seen['zone_visible'] and seen['zone_fraction'] == pytest.approx(
        spill_features(image, 'rgb8', ORANGE_LOWER, ORANGE_UPPER)['spill_fraction'])
    with pytest.raises(ValueError, match='zone_hsv_lower and zone_hsv_upper go together'):
        FeatureConfig(zone_hsv_lower=ORANGE_LOWER)


def test_snapshot_values_are_checked_and_frozen():
    snapshot = FeatureSnapshot(np.float64(1.5), {'speed': np.float32(0.5),
                                                 'spill_visible': np.bool_(True)})
    assert snapshot.stamp == 1.5 and type(snapshot.stamp) is float
    assert snapshot.values == {'speed': 0.5, 'spill_visible': True}
    assert type(snapshot.values['spill_visible']) is bool
    with pytest.raises(TypeError):
        snapshot.values['speed'] = 1.0
    for values, message in [({'speed': float('nan')}, 'feature speed must be finite'),
                            ({'spill_visible': 0.5}, 'feature spill_visible must be a bool'),
                            ({'front_min': True}, 'feature front_min must be a number'),
                            ({3: 1.0}, 'feature names must be strings')]:
        with pytest.raises(ValueError, match=message):
            FeatureSnapshot(0.0, values)
    with pytest.raises(ValueError, match='stamp must be finite'):
        FeatureSnapshot(float('inf'), {})


def test_extractor_merges_sensors_and_forgets_silent_ones():
    extractor = FeatureExtractor(FeatureConfig(hsv_lower=ORANGE_LOWER, hsv_upper=ORANGE_UPPER,
                                               max_age_s=1.0))
    assert extractor.snapshot(0.0).values == {}
    extractor.update_odom(0.3, 0.4, 0.0, stamp=0.0)
    image = rgb_image([(ORANGE, slice(60, 90), slice(100, 140))])
    extractor.update_image(image, 'rgb8', stamp=0.5)
    snapshot = extractor.snapshot(1.0)
    assert snapshot.values['speed'] == pytest.approx(0.5)
    assert snapshot.values['spill_fraction'] == pytest.approx(0.0625)
    assert 'front_min' not in snapshot.values  # the lidar has not spoken yet
    later = extractor.snapshot(1.2).values      # odometry is 1.2 s old: dropped
    assert 'speed' not in later and 'spill_fraction' in later


def test_extractor_keeps_the_last_good_reading_when_an_update_is_refused():
    extractor = FeatureExtractor(FeatureConfig(max_age_s=None))
    ranges, start, increment = box_scan(**WALLS)
    extractor.update_scan(ranges, start, increment, 0.05, 10.0, stamp=0.0)
    with pytest.raises(ValueError):
        extractor.update_scan(np.ones((3, 3)), start, increment, 0.05, 10.0, stamp=1.0)
    with pytest.raises(ValueError):
        extractor.update_scan(ranges, start, increment, 0.05, 10.0, stamp=float('nan'))
    assert extractor.snapshot(100.0).values == pytest.approx(WALL_FEATURES, abs=1e-9)


@pytest.mark.parametrize('settings, message', [
    ({'hsv_lower': [0, 0]}, 'hsv_lower must be three integers'),
    ({'max_age_s': 0.0}, 'max_age_s must be positive'),
    ({'spill_visible_fraction': 1.0}, 'spill_visible_fraction must be in [0, 1)'),
    ({'front_half_angle': 15.0}, 'front_half_angle: unknown setting'),
])
def test_feature_config_refuses_bad_settings(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        FeatureConfig.from_mapping(settings)
