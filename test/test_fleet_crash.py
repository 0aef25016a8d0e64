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
``kill -9`` of the installer at each step of an install leaves the previous state intact.

The installer runs in a child process that announces each step and stops at the chosen one;
the test kills it there with SIGKILL, then starts a fresh engine, store and controller on the
same directories, as a rebooted robot would.
"""

import os
from pathlib import Path
import signal
import subprocess
import sys

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.policy import Policies
from adapter_switcher.fleet.store import VersionStore
from fleet_fixtures import install
from fleet_fixtures import make_fleet
from fleet_fixtures import OBS
from fleet_fixtures import ReluPolicy
import pytest
import torch

CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {test_dir!r})
from adapter_switcher.fleet.installer import Installer
from fleet_fixtures import ReluPolicy, Robot

def on_step(step):
    print(step, flush=True)
    if step == {step!r}:
        time.sleep(600)

robot = Robot(Path({robot!r}), ReluPolicy(), Path({trusted!r}))
Installer(robot.engine, robot.store, robot.keyring, on_step=on_step).install({bundle!r})
print('done', flush=True)
"""
STEPS = ['verified', 'extracted', 'probed', 'renamed', 'registered']


@pytest.mark.parametrize('step', STEPS)
def test_kill_9_at_each_install_step_keeps_the_previous_version(tmp_path, step):
    robot, shop, installer, controller = make_fleet(tmp_path)
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    robot.engine.close()
    bundle = shop.bundle('nav', '1.1.0', seed=2)
    code = CHILD.format(test_dir=str(Path(__file__).parent), step=step,
                        robot=str(tmp_path / 'robot'), trusted=str(shop.trusted),
                        bundle=str(bundle))
    child = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ))
    try:
        seen = []
        for line in child.stdout:
            seen.append(line.strip())
            if seen[-1] == step:
                break
        assert seen and seen[-1] == step, f'the installer never reached {step}: {seen}'
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL

    store = VersionStore(tmp_path / 'robot' / 'store')
    engine = AdapterEngine(ReluPolicy(), [store.root], EngineConfig(),
                           probe_inputs=((torch.zeros(1, OBS),), {}))
    FleetController(engine, store, Policies())
    visible = STEPS.index(step) >= STEPS.index('renamed')
    assert store.installed() == {'nav': ['1.0.0', '1.1.0'] if visible else ['1.0.0']}
    assert list(store.staging.iterdir()) == [], 'a half-done install is discarded'
    assert engine.rejections() == {}, 'nothing half-installed is listed'
    assert store.name_state('nav').promoted == '1.0.0'
    assert engine.activate('nav').active == 'nav@1.0.0'
    assert torch.isfinite(engine.step(torch.ones(1, OBS)).output).all()
    engine.close()
