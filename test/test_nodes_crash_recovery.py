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
Crash recovery over DDS: ``kill -9`` the inference node under ``bringup --respawn``.

The robot runs as a user starts it (``adapter-switcher bringup`` with a parameter file, managed
by the lifecycle manager, respawn on). An operator puts it on ``hazard`` by hand; the inference
node is then killed with SIGKILL mid-run. It must come back by itself on ``hazard``, in manual
mode, driving with hazard's outputs. A corrupt state file must not stop a node.
"""

import os
from pathlib import Path
import signal
import sys

from adapter_switcher.context import load_rules
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.demo.reference import ReferencePolicy
from adapter_switcher.nodes.inference_state import StateFile
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import Scene
from dds_harness import scene_command
from dds_harness import SyntheticSensors
from geometry_msgs.msg import Twist
import psutil
import pytest
from std_msgs.msg import String
import yaml

pytestmark = pytest.mark.dds

DOMAIN_ID = 51
START_TIMEOUT = 180.0
TIMEOUT = 60.0
SPILL = Scene(spill_fraction=0.06)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('crash_demo')
    make_demo_adapters(root)
    reference = ReferencePolicy(root, load_rules(share_path('config/context_rules.yaml')).features)
    return root, reference


def _params_file(path: Path, demo_dir: Path) -> Path:
    """Write the package's parameter file with the test's base weights and a longer timeout."""
    params = yaml.safe_load(share_path('config/adapter_switcher.yaml').read_text())
    node = params['/**/inference_node']['ros__parameters']
    node.update(model_weights=str(demo_dir / 'base_policy.safetensors'), sensor_timeout_s=2.0)
    path.write_text(yaml.safe_dump(params))
    return path


def _node_process(bringup, module):
    """Return the bringup's child process running ``module`` (psutil), or None."""
    for child in psutil.Process(bringup.popen.pid).children():
        try:
            if module in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _pair(msg):
    return None if msg is None else (msg.linear.x, msg.angular.z)


def _near(got, want, atol=1e-3):
    return got is not None and all(abs(g - w) < atol for g, w in zip(got, want))


def test_sigkilled_inference_node_respawns_on_the_same_adapter_and_mode(demo, tmp_path):
    demo_dir, reference = demo
    params = _params_file(tmp_path / 'robot.yaml', demo_dir)
    state_dir = tmp_path / 'state'
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--params-file',
            str(params), '--adapters-dir', str(demo_dir / 'adapters'), '--respawn',
            '--state-dir', str(state_dir)]
    hazard_cmd = scene_command(reference, 'hazard', SPILL)
    assert not _near(scene_command(reference, 'navigation', SPILL), hazard_cmd, 0.05)
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, SPILL)
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        bringup = dds.start_argv('bringup', argv)
        dds.wait_for(lambda: active.last() is not None, START_TIMEOUT, 'the robot is up')
        results = dds.set_parameters('/inference_node', {'adapter_override': 'hazard'})
        assert results[0].successful, results[0].reason
        dds.wait_for(lambda: active.last().data == 'hazard', TIMEOUT, 'hazard active')
        state_file = StateFile(state_dir / 'inference_node_state.json')
        dds.wait_for(lambda: (state_file.load()[0] or None) and
                     state_file.load()[0].override == 'hazard', TIMEOUT, 'the state saved')

        mode = dds.get_parameters('/inference_node', ['adapter_override', 'auto_mode'])
        assert mode['adapter_override'] == 'hazard'
        victim = _node_process(bringup, 'adapter_switcher.nodes.inference_node')
        assert victim is not None, dds.logs()
        active.clear()
        cmd.clear()
        os.kill(victim.pid, signal.SIGKILL)
        dds.wait_for(lambda: 'respawning' in bringup.tail(), TIMEOUT, 'the bringup respawns it')
        dds.wait_for(lambda: active.last() is not None, START_TIMEOUT,
                     'the respawned node publishes its adapter')
        assert active.last().data == 'hazard'
        reborn = _node_process(bringup, 'adapter_switcher.nodes.inference_node')
        assert reborn is not None and reborn.pid != victim.pid
        assert dds.get_parameters('/inference_node', ['adapter_override', 'auto_mode']) == mode
        dds.wait_for(lambda: _near(_pair(cmd.last()), hazard_cmd), TIMEOUT,
                     f'cmd_vel from hazard {hazard_cmd} (last {_pair(cmd.last())})')
        assert bringup.alive()
        assert 'restored from' in bringup.tail(20000)


def test_a_corrupt_state_file_is_reported_and_the_node_starts(demo, tmp_path):
    demo_dir, _ = demo
    params = _params_file(tmp_path / 'robot.yaml', demo_dir)
    state_dir = tmp_path / 'state'
    state_dir.mkdir()
    corrupt = state_dir / 'inference_node_state.json'
    corrupt.write_bytes(b'{"format": "adapter_switcher.inference_state", "active": \xff')
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--params-file',
            str(params), '--adapters-dir', str(demo_dir / 'adapters'), '--no-managed',
            '--state-dir', str(state_dir)]
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        bringup = dds.start_argv('bringup', argv)
        dds.wait_for(lambda: active.last() is not None and active.last().data == 'navigation',
                     START_TIMEOUT, 'the robot runs navigation')
        log = bringup.tail(20000)
        assert f'state file {corrupt} is unreadable' in log or (
            f'state file {corrupt} is corrupt' in log)
        dds.wait_for(lambda: StateFile(corrupt).load()[0] is not None, TIMEOUT,
                     'a good state written over the corrupt one')
