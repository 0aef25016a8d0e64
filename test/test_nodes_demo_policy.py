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

"""The demo policy: observation encoding, action limits, and adapters the engine accepts."""

import math

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import load_base_model
from adapter_switcher.demo.adapters import DEMO_BEHAVIOURS
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.demo.policy_model import decode_action
from adapter_switcher.demo.policy_model import encode_observation
from adapter_switcher.demo.policy_model import LIDAR_BINS
from adapter_switcher.demo.policy_model import lidar_profile
from adapter_switcher.demo.policy_model import MAX_ANGULAR
from adapter_switcher.demo.policy_model import MAX_LINEAR
from adapter_switcher.demo.policy_model import OBS_DIM
from adapter_switcher.demo.reference import FACTORY
from adapter_switcher.demo.reference import ReferencePolicy

import numpy as np
import pytest
import torch

OPEN = {'front_min': 5.0, 'left_min': 1.5, 'right_min': 1.5, 'aisle_width': 3.0,
        'spill_fraction': 0.0, 'spill_x': 0.0, 'spill_y': 0.0, 'spill_visible': False,
        'speed': 0.4, 'yaw_rate': 0.0}
SPILL_LEFT = dict(OPEN, spill_fraction=0.1, spill_x=-0.6, spill_y=0.8, spill_visible=True)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    return out, make_demo_adapters(out)


@pytest.mark.parametrize('length', [1, 7, LIDAR_BINS - 1, LIDAR_BINS, LIDAR_BINS + 1, 100, 360,
                                    361, 1081])
def test_lidar_profile_is_the_min_over_array_split_sectors(length):
    rng = np.random.default_rng(length)
    for trial in range(20):
        ranges = rng.uniform(-1.0, 12.0, length)
        ranges[rng.random(length) < 0.3] = np.nan
        ranges[rng.random(length) < 0.1] = np.inf
        ranges[rng.random(length) < 0.05] = -np.inf
        if trial == 0:
            ranges[:] = np.nan
        for readings in (ranges, ranges.astype(np.float32)):   # a LaserScan's are float32
            scaled = np.clip(readings.astype(np.float64) / 10.0, 0.0, 1.0)
            expected = np.ones(LIDAR_BINS, dtype=np.float32)
            for index, sector in enumerate(np.array_split(scaled, LIDAR_BINS)):
                valid = sector[~np.isnan(sector)]
                if valid.size:
                    expected[index] = valid.min()
            assert np.array_equal(lidar_profile(readings, 10.0), expected)
            assert np.array_equal(lidar_profile(list(readings), 10.0), expected)


def test_lidar_profile_ignores_nan_and_reads_inf_as_free():
    ranges = np.full(72, 5.0, dtype=np.float32)
    ranges[0:2] = [np.nan, 1.0]     # bin 0: NaN ignored, 1 m counts
    ranges[2:4] = np.nan            # bin 1: nothing valid -> free
    ranges[4:6] = [np.inf, 20.0]    # bin 2: beyond range_max -> free
    ranges[6:8] = -1.0              # bin 3: negative -> contact
    profile = lidar_profile(ranges, range_max=10.0)
    assert profile.shape == (LIDAR_BINS,)
    np.testing.assert_allclose(profile[:5], [0.1, 1.0, 1.0, 0.0, 0.5])
    np.testing.assert_array_equal(lidar_profile(None, 10.0), np.ones(LIDAR_BINS))


def test_observation_is_finite_whatever_the_features_hold():
    obs = encode_observation({'front_min': float('nan'), 'speed': float('inf'),
                              'spill_visible': True}, None)
    assert obs.shape == (1, OBS_DIM) and obs.dtype == torch.float32
    assert torch.isfinite(obs).all()
    assert torch.equal(encode_observation({}, None), encode_observation({}))


def test_decoded_actions_stay_within_the_velocity_limits():
    linear, angular = decode_action(torch.tensor([[1e6, -1e6]]))
    assert linear == pytest.approx(MAX_LINEAR) and angular == pytest.approx(-MAX_ANGULAR)


def test_decoding_reads_the_first_two_values_in_row_major_order():
    raw = torch.tensor([0.3, -2.0])
    want = (math.tanh(0.3) * MAX_LINEAR, math.tanh(-2.0) * MAX_ANGULAR)
    for output in (raw.view(1, 2), raw.view(2, 1), raw.view(1, 1, 2),
                   torch.tensor([[0.3, -2.0, 5.0]]), raw.clone().requires_grad_(),
                   raw.to(torch.float64)):
        assert decode_action(output) == pytest.approx(want, rel=1e-6)


def test_demo_adapters_load_in_the_engine_and_match_peft(demo):
    out, paths = demo
    assert set(paths) == {'base'} | set(DEMO_BEHAVIOURS)
    assert (paths['hazard'] / 'adapter_model.safetensors').is_file()
    assert (paths['hazard'] / 'manifest.json').is_file()
    model = load_base_model(BaseModelSpec(factory=FACTORY, weights=str(paths['base'])))
    obs = encode_observation(SPILL_LEFT)
    engine = AdapterEngine(model, [out / 'adapters'], probe_inputs=((obs,), {}))
    try:
        assert sorted(i.name for i in engine.adapters()) == sorted(DEMO_BEHAVIOURS)
        assert engine.rejections() == {}
        reference = ReferencePolicy(out)
        for name in DEMO_BEHAVIOURS:
            engine.activate(name)
            got = decode_action(engine.step(obs).output)
            with torch.inference_mode():
                want = decode_action(reference.model(name)(obs))
            assert got == pytest.approx(want, abs=1e-5)
    finally:
        engine.close()


def test_adapters_drive_as_their_behaviours_say(demo):
    reference = ReferencePolicy(demo[0])

    def act(adapter, features):
        with torch.inference_mode():
            return decode_action(reference.model(adapter)(encode_observation(features)))
    nav_linear, _ = act('navigation', OPEN)
    hazard_linear, hazard_angular = act('hazard', SPILL_LEFT)
    assert nav_linear > 0.6                 # open aisle: fast
    assert hazard_linear < 0.3              # spill: creep ...
    assert hazard_angular > 0.3             # ... and turn right, away from a spill on the left
    assert act('narrow_aisle', OPEN)[0] < nav_linear
    assert all(math.isfinite(v) for v in act(None, OPEN))


def test_demo_assets_are_reproducible(demo, tmp_path):
    again = make_demo_adapters(tmp_path)
    assert again['base'].read_bytes() == demo[1]['base'].read_bytes()
    assert ((again['hazard'] / 'adapter_model.safetensors').read_bytes()
            == (demo[1]['hazard'] / 'adapter_model.safetensors').read_bytes())
