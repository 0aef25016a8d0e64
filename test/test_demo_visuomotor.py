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
The visuomotor policy: its observation, its size, its adapters in the engine, and a short train.

The observation carries pixels and ranges, never the context features; adapters on its conv and
linear layers give the same outputs in the engine as in PEFT; and a policy trained on a small
budget by ``train_demo`` still drives a short route to its end, through the engine, with two
resident slots for three adapters.
"""

import argparse
import copy
import dataclasses
import math
import os
from pathlib import Path
import subprocess
import sys

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import load_base_model
from adapter_switcher.core.adapter_files import MANIFEST
from adapter_switcher.core.adapter_files import read_manifest
from adapter_switcher.demo import train_cli
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR
from adapter_switcher.demo.adapters import BASE_WEIGHTS
from adapter_switcher.demo.adapters import fit_lora
from adapter_switcher.demo.adapters import save_demo_models
from adapter_switcher.demo.closed_loop import open_demo_loop
from adapter_switcher.demo.closed_loop import ROUTE_RULES
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
from adapter_switcher.demo.train_cli import ROUTE_ADAPTERS
from adapter_switcher.demo.training import fit_from_ticks
from adapter_switcher.demo.training import LearnedDriver
from adapter_switcher.demo.training import train_demo
from adapter_switcher.demo.visuomotor import augment_images
from adapter_switcher.demo.visuomotor import build_visuomotor
from adapter_switcher.demo.visuomotor import CARROT_SCALE
from adapter_switcher.demo.visuomotor import decode_offset_action
from adapter_switcher.demo.visuomotor import decode_offset_batch
from adapter_switcher.demo.visuomotor import encode_visuomotor
from adapter_switcher.demo.visuomotor import IMAGE_DIM
from adapter_switcher.demo.visuomotor import LIDAR_BEAMS
from adapter_switcher.demo.visuomotor import MAX_OFFSET
from adapter_switcher.demo.visuomotor import MAX_SPEED
from adapter_switcher.demo.visuomotor import OBS_DIM
from adapter_switcher.demo.visuomotor import offset_command
from adapter_switcher.demo.visuomotor import OFFSET_LIMIT
from adapter_switcher.demo.visuomotor import OFFSET_TRACKING
from adapter_switcher.demo.visuomotor import parameter_count
from adapter_switcher.demo.visuomotor import randomise_odometry
from adapter_switcher.demo.visuomotor import randomise_route
from adapter_switcher.demo.visuomotor import TARGET_MODULES
from adapter_switcher.paths import share_path
from adapter_switcher.route_progress import RouteProgress
import numpy as np
import pytest
from safetensors.torch import load_file
import torch


def test_observation_is_pixels_ranges_velocities_and_carrot():
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[:, 80:] = 255  # right half white
    ranges = np.full(360, 5.0)
    ranges[0] = np.nan
    ranges[1] = np.inf
    obs = encode_visuomotor(image, ranges, 10.0, math.nan, 0.3, (1.5, -0.2))
    assert obs.shape == (1, OBS_DIM) and obs.dtype == torch.float32
    assert torch.isfinite(obs).all()
    pixels = obs[0, :IMAGE_DIM].reshape(3, 30, 40)
    assert pixels[:, :, :20].max() == 0 and pixels[:, :, 20:].min() == 1
    lidar = obs[0, IMAGE_DIM:-4]
    assert torch.allclose(lidar, torch.full_like(lidar, 0.5))
    assert obs[0, -4:].tolist() == pytest.approx([0.0, 0.2, 0.75, -0.1])
    blind = encode_visuomotor(None, None, 10.0, 0.0, 0.0, (0.0, 0.0))
    assert blind[0, :IMAGE_DIM].abs().sum() == 0 and (blind[0, IMAGE_DIM:-4] == 1).all()
    with pytest.raises(ValueError, match='expected an H x W x 3 uint8 RGB image'):
        encode_visuomotor(image[:, :, 0], ranges, 10.0, 0.0, 0.0, (0.0, 0.0))


def test_network_size_is_within_the_budget():
    assert 300_000 <= parameter_count(build_visuomotor()) <= 5_000_000


def test_conv_and_linear_lora_runs_in_the_engine_as_in_peft(tmp_path):
    base = build_visuomotor()
    generator = torch.Generator().manual_seed(0)
    obs = torch.rand(64, OBS_DIM, generator=generator)
    targets = torch.rand(64, 2, generator=generator) - 0.5
    model = fit_lora(base, obs, targets, steps=5, target_modules=TARGET_MODULES, batch=16)
    wrapped = {name for name, module in model.named_modules() if hasattr(module, 'lora_A')}
    assert {name.rsplit('.', 1)[-1] for name in wrapped} == set(TARGET_MODULES)
    for name, param in model.named_parameters():  # make every LoRA weight matter
        if 'lora_B' in name:
            param.data.normal_(0.0, 0.05, generator=generator)
    model.save_pretrained(str(tmp_path / 'adapter'), safe_serialization=True)
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((obs[:1],), {}))
    try:
        engine.activate('adapter')
        with torch.inference_mode():
            expected = model(obs[:4])
        got = torch.cat([engine.step(obs[i:i + 1]).output for i in range(4)])
    finally:
        engine.close()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_augmentation_jitters_images_only_and_is_deterministic_for_a_seed():
    generator = torch.Generator().manual_seed(0)
    obs = torch.rand(32, OBS_DIM, generator=generator).half()  # recorded ticks are half
    first = augment_images(obs, torch.Generator().manual_seed(7))
    again = augment_images(obs, torch.Generator().manual_seed(7))
    other = augment_images(obs, torch.Generator().manual_seed(8))
    assert first.dtype == torch.float32 and first.shape == obs.shape
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(first[:, IMAGE_DIM:], obs[:, IMAGE_DIM:].float())
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert not torch.equal(first[:, :IMAGE_DIM], obs[:, :IMAGE_DIM].float())
    assert torch.equal(augment_images(obs, generator, shift=0, brightness=0.0, colour=0.0),
                       obs.float())


def test_augmentation_shifts_by_at_most_the_shift_and_scales_within_the_gains():
    obs = torch.zeros(200, OBS_DIM)
    image = obs[:, :IMAGE_DIM].view(200, 3, 30, 40)
    image[:, :, 15, 20] = 0.5  # one grey pixel in the middle
    jittered = augment_images(obs, torch.Generator().manual_seed(0), shift=2,
                              brightness=0.2, colour=0.1).view(200, -1)[:, :IMAGE_DIM]
    pixels = jittered.reshape(200, 3, 30, 40)
    lit = pixels.sum(dim=1).nonzero()  # (sample, row, col) of the moved pixel
    assert lit.shape[0] == 200  # each image keeps exactly one lit pixel
    rows, cols = lit[:, 1], lit[:, 2]
    assert rows.sub(15).abs().max() == 2 and cols.sub(20).abs().max() == 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # every shift comes up
    values = pixels[lit[:, 0], :, rows, cols]
    assert values.min() >= 0.5 * 0.8 * 0.9 - 1e-6 and values.max() <= 0.5 * 1.2 * 1.1 + 1e-6
    assert values.std() > 0.01  # brightness and colour do vary


def _randomised(randomise, first_column):
    """Return a recording and its randomisation; check that only two columns changed."""
    obs = torch.rand(500, OBS_DIM, generator=torch.Generator().manual_seed(0)).half()
    before = obs.clone()
    randomised = randomise(obs, torch.Generator().manual_seed(3))
    assert torch.equal(obs, before)  # the recording is not touched
    assert torch.equal(randomised, randomise(obs, torch.Generator().manual_seed(3)))
    kept = torch.ones(OBS_DIM, dtype=torch.bool)
    kept[first_column:first_column + 2] = False
    assert torch.equal(randomised[:, kept], obs[:, kept].float())
    return obs, randomised


def test_odometry_randomisation_replaces_the_velocities_only():
    odometry = IMAGE_DIM + LIDAR_BEAMS
    obs, first = _randomised(randomise_odometry, odometry)
    linear, yaw = first[:, odometry], first[:, odometry + 1]
    assert 0.0 <= linear.min() and linear.max() <= 1.0 and linear.std() > 0.2
    assert -1.0 <= yaw.min() < -0.9 and 0.9 < yaw.max() <= 1.0
    # nothing of the recorded yaw rate is left to copy
    assert abs(np.corrcoef(yaw.numpy(), obs[:, odometry + 1].float().numpy())[0, 1]) < 0.15


def test_route_randomisation_replaces_the_carrot_only():
    carrot = IMAGE_DIM + LIDAR_BEAMS + 2
    obs, first = _randomised(randomise_route, carrot)
    forward, across = first[:, carrot] * CARROT_SCALE, first[:, carrot + 1] * CARROT_SCALE
    assert 0.0 <= forward.min() < 0.1 and 1.9 < forward.max() <= 2.0
    assert -2.0 <= across.min() < -1.8 and 1.8 < across.max() <= 2.0
    # nothing of where the robot's own commands took it is left to read
    assert abs(np.corrcoef(across.numpy(), obs[:, carrot + 1].float().numpy())[0, 1]) < 0.15


def test_the_offset_is_driven_beside_the_route_and_narrows_to_the_goal():
    route = RouteProgress(((10.0, 0.0), (10.0, 10.0)), 0.4)
    assert offset_command(route, (0.0, 0.0, 0.0), 0.3, 0.0) == pytest.approx((0.3, 0.0))
    v, w = offset_command(route, (0.0, 0.0, 0.0), 0.3, -0.5)     # right of the route
    assert v == pytest.approx(0.3) and w < -0.5
    # An offset held at the goal would keep the robot beside it: it narrows to the goal.
    goal = RouteProgress(((5.0, 0.0),), 0.4)
    offset_command(goal, (0.0, 0.0, 0.0), 0.3, 0.8)
    _, w = offset_command(goal, (4.8, 0.8, 0.0), 0.3, 0.8)
    assert w < -1.0                                        # turning back to the goal
    assert offset_command(goal, (4.9, 0.1, 0.0), 0.3, 0.8) == (0.0, 0.0) and goal.done


def test_the_decoded_offset_stays_within_the_limit_the_law_drives():
    # The network's range is wider (the teacher's 0.8 m is no saturated output for the fit);
    # what the law drives stops short of an aisle's shelves.
    assert decode_offset_action(torch.tensor([[0.0, 10.0]])) == (0.0, OFFSET_LIMIT)
    assert decode_offset_action(torch.tensor([[0.5, -10.0]]))[1] == -OFFSET_LIMIT
    speed, offset = decode_offset_action(torch.tensor([[math.atanh(0.3), math.atanh(0.5)]]))
    assert (speed, offset) == pytest.approx((0.3 * MAX_SPEED, 0.5 * MAX_OFFSET))
    assert decode_offset_batch(torch.tensor([[0.0, 10.0]]))[0, 1] > OFFSET_LIMIT


def test_a_speed_of_zero_never_leaves_the_robot_standing_where_the_law_has_no_turn_to_make():
    route = RouteProgress(((10.0, 0.0),), 0.4)
    v, w = offset_command(route, (0.0, 0.0, 0.0), 0.0, 0.0)
    assert v == pytest.approx(OFFSET_TRACKING.min_speed) and w == pytest.approx(0.0)
    # ... but the law still stops to turn on the spot
    assert offset_command(route, (1.0, 0.0, math.pi), 0.0, 0.0)[0] == 0.0


def test_augmentations_are_chosen_by_name_in_a_fixed_order():
    obs = torch.rand(8, OBS_DIM, generator=torch.Generator().manual_seed(0))
    both = VISUOMOTOR.augmentation(['odometry', 'images'])
    generator, reference = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(both(obs, generator),
                       randomise_odometry(augment_images(obs, reference), reference))
    assert VISUOMOTOR.augmentation([]) is None
    with pytest.raises(ValueError,
                       match="no training augmentation 'blur' .*images, odometry, route"):
        VISUOMOTOR.augmentation(['images', 'blur'])
    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    names = list(VISUOMOTOR.augmentations)  # train-demo offers exactly these
    assert parser.parse_args(['train-demo', '--augment', *names]).augment == names
    assert parser.parse_args(['train-demo']).augment == []
    with pytest.raises(SystemExit):
        parser.parse_args(['train-demo', '--augment', 'blur'])


def test_augmented_fit_is_deterministic_for_a_seed_and_differs_from_plain(tmp_path):
    generator = torch.Generator().manual_seed(0)
    obs = torch.rand(64, OBS_DIM, generator=generator)
    targets = torch.rand(64, 2, generator=generator) - 0.5
    written = {}
    for run, augment in (('a', augment_images), ('b', augment_images), ('plain', None)):
        save_demo_models(tmp_path / run, (obs, targets), {'hazard': (obs, targets)}, steps=3,
                         seed=0, build=VISUOMOTOR.build, target_modules=TARGET_MODULES,
                         batch=8, augment=augment)
        written[run] = {path.relative_to(tmp_path / run): load_file(str(path))
                        for path in (tmp_path / run).rglob('*.safetensors')}
    assert written['a'].keys() == written['plain'].keys() and len(written['a']) == 2
    for path, tensors in written['a'].items():
        assert all(torch.equal(t, written['b'][path][k]) for k, t in tensors.items())
    base = Path(BASE_WEIGHTS)
    assert any(not torch.equal(t, written['plain'][base][k])
               for k, t in written['a'][base].items())


_SAVE_ONE_ADAPTER = """
import sys, torch
from adapter_switcher.demo.adapters import save_demo_models
from adapter_switcher.demo.visuomotor import build_visuomotor, OBS_DIM, TARGET_MODULES
obs = torch.rand(32, OBS_DIM, generator=torch.Generator().manual_seed(0))
targets = torch.zeros(32, 2)
save_demo_models(sys.argv[1], (obs, targets), {'hazard': (obs, targets)}, steps=1, batch=8,
                 build=build_visuomotor, target_modules=TARGET_MODULES)
"""


def test_a_seed_writes_the_same_adapter_files_in_every_process(tmp_path):
    # PEFT writes target_modules from a set; its order follows the process's string hashing.
    written = []
    for hash_seed in ('1', '2', '3'):
        out = tmp_path / hash_seed
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, '-c', _SAVE_ONE_ADAPTER, str(out)], env=env,
                       check=True, timeout=300)
        written.append({path.relative_to(out): path.read_bytes()
                        for path in sorted(out.rglob('*')) if path.is_file()})
    assert written[0].keys() == written[1].keys() == written[2].keys()
    assert len(written[0]) >= 4   # base, adapter weights, adapter config, manifest
    assert written[0] == written[1] == written[2]


def test_augmenting_a_policy_without_an_augmentation_is_refused(tmp_path):
    with pytest.raises(ValueError, match="has no training augmentation 'images' .*none"):
        fit_from_ticks(tmp_path, [], steps=1, seed=0, augment=['images'])


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train on a tiny budget on the straight demo aisle (one spill, no zone), and segments."""
    torch.set_num_threads(1)
    loop = open_demo_loop(scenario='config/demo_scenario.yaml', rules=ROUTE_RULES,
                          encoder=VISUOMOTOR.encoder)
    out = tmp_path_factory.mktemp('visuomotor')
    report = train_demo(loop, out, rounds=0, episodes=3, steps=300, seed=0,
                        evaluation_seeds=[], adapters=ROUTE_ADAPTERS, kind=VISUOMOTOR,
                        situations=2, first_situation_seed=20_000)
    yield loop, out, report
    loop.sim.close()


@pytest.mark.sim
def test_small_budget_training_writes_models_the_engine_accepts(trained):
    _, out, report = trained
    assert report.rounds[0] == (0, report.rounds[0][1]) and len(report.rounds) == 1
    base = load_base_model(BaseModelSpec(factory=VISUOMOTOR.factory,
                                         weights=str(out / BASE_WEIGHTS)))
    engine = AdapterEngine(base, [out / ADAPTERS_SUBDIR], EngineConfig(num_slots=2))
    try:
        assert sorted(a.name for a in engine.adapters()) == sorted(ROUTE_ADAPTERS)
        assert engine.rejections() == {}
    finally:
        engine.close()


@pytest.mark.sim
def test_small_budget_policy_still_drives_the_short_route(trained):
    loop, out, _ = trained
    scenario = loop.sim.scenario
    loop.sim.scenario = dataclasses.replace(scenario, waypoints=((-3.0, -3.2),))
    driver = LearnedDriver(out, loop.rules, kind=VISUOMOTOR, num_slots=2)
    try:
        results = [loop.run(seed, driver, time_limit_s=40.0) for seed in (900, 901)]
    finally:
        driver.close()
        loop.sim.scenario = scenario
    for result in results:
        assert result.reached_goal and result.collisions == 0, result
        assert result.distance > 3.0


def test_shipped_models_load_fit_the_size_budget_and_carry_validation_metrics():
    models = share_path('models/demo/visuomotor')
    total = sum(p.stat().st_size for p in models.rglob('*') if p.is_file())
    assert total <= 20 * 1024 * 1024
    base = load_base_model(BaseModelSpec(factory=VISUOMOTOR.factory,
                                         weights=str(models / BASE_WEIGHTS)))
    engine = AdapterEngine(base, [models / ADAPTERS_SUBDIR], EngineConfig(num_slots=2),
                           probe_inputs=((torch.zeros(1, OBS_DIM),), {}))
    try:
        assert sorted(a.name for a in engine.adapters()) == sorted(ROUTE_ADAPTERS)
        assert engine.rejections() == {}
        for name in ROUTE_ADAPTERS:
            engine.activate(name)
            assert engine.step(torch.zeros(1, OBS_DIM)).output.shape == (1, 2)
    finally:
        engine.close()
    for name in ROUTE_ADAPTERS:
        manifest = read_manifest(models / ADAPTERS_SUBDIR / name / MANIFEST)
        assert 'switched_success_rate' in manifest.metrics
