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
Two robots offloading to one policy server over real DDS and HTTP, and the server going away.

A policy server (``adapter-switcher serve``, its own local Ray cluster on the loopback address)
and two inference nodes in namespaces /r1 and /r2 with ``inference_backend: serve``, each fed
by its own synthetic sensors. Their /cmd_vel must equal the demo policy computed here with plain
PEFT for the same data (so the server ran each robot's adapter), and a prefetch hint must warm
the predicted adapter on the server. Then the server is stopped: /r1 (``serve_fallback:
local``) keeps driving with the same commands from its on-board model and reports WARN; /r2
(``serve_fallback: stop``) publishes zero velocity and reports ERROR, as with a sensor timeout.
"""

import dataclasses
import math
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.context import load_rules
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.demo.reference import ReferencePolicy
from adapter_switcher.nodes.diagnostics import ERROR
from adapter_switcher.nodes.diagnostics import OK
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.diagnostics import WARN
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path
from adapter_switcher.serve.client import PolicyClient
from adapter_switcher.serve.client import ServeError

from dds_harness import DdsHarness
from dds_harness import node_env
from dds_harness import Scene
from dds_harness import scene_command
from dds_harness import SyntheticSensors
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
import pytest
from std_msgs.msg import String

pytestmark = pytest.mark.dds

DOMAIN_ID = 70
START_TIMEOUT = 240.0   # a Ray cluster and two torch processes on a busy 2-core machine
TIMEOUT = 60.0
SCENE = Scene(front_m=3.0, left_m=1.0, right_m=2.0, spill_fraction=0.01)
ROBOTS = {'r1': ('navigation', 'local'), 'r2': ('hazard', 'stop')}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class PolicyServer:
    """``adapter-switcher serve`` as a process of its own; stopped with SIGINT, never left over."""

    def __init__(self, demo_dir: Path, log_path: Path):
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}/policy'
        self._log = open(log_path, 'wb')
        self.log_path = log_path
        argv = [sys.executable, '-m', 'adapter_switcher.cli', 'serve', '--port', str(self.port),
                '--adapters-dir', str(demo_dir / 'adapters'),
                '--model-weights', str(demo_dir / 'base_policy.safetensors')]
        self.popen = subprocess.Popen(argv, env=node_env(DOMAIN_ID), stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self) -> bool:
        if self.popen.poll() is not None:
            raise AssertionError(f'the server exited:\n{self.log_path.read_text()[-3000:]}')
        try:
            PolicyClient(self.url, timeout_s=5.0).stats()
        except ServeError:
            return False
        return True

    def stop(self) -> None:
        """SIGINT (Serve and Ray shut down), then SIGKILL the whole process group if needed."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)
        self._log.close()


def _close(got, want, atol=1e-3):
    return all(math.isclose(g, w, abs_tol=atol) for g, w in zip(got, want))


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp('served_fleet')
    demo_dir = root / 'demo'
    make_demo_adapters(demo_dir, steps=60)
    reference = ReferencePolicy(demo_dir, load_rules(share_path('config/context_rules.yaml'))
                                .features)
    expected = {ns: scene_command(reference, adapter, SCENE)
                for ns, (adapter, _) in ROBOTS.items()}
    assert not _close(expected['r1'], expected['r2'], atol=0.05)
    server = PolicyServer(demo_dir, root / 'server.log')
    try:
        with DdsHarness(DOMAIN_ID, root / 'logs') as dds:
            dds.wait_for(server.ready, START_TIMEOUT, f'the policy server at {server.url}',
                         poll=2.0)
            for namespace, (adapter, fallback) in ROBOTS.items():
                spec = [s for s in robot_node_specs(namespace=namespace,
                                                    adapters_dir=demo_dir / 'adapters')
                        if s.name == 'inference_node'][0]
                params = {'model_weights': str(demo_dir / 'base_policy.safetensors'),
                          'adapter_override': adapter, 'inference_backend': 'serve',
                          'serve_url': server.url, 'serve_fallback': fallback,
                          # generous: a busy 2-core machine must not trip the fall-back early
                          'serve_timeout_s': 5.0, 'serve_retry_s': 0.5,
                          'sensor_timeout_s': 2.0}
                dds.start(dataclasses.replace(spec, parameters=tuple(spec.parameters)
                                              + (params,)))
            sensors = [SyntheticSensors(dds, SCENE, namespace=f'/{ns}') for ns in ROBOTS]
            yield dds, server, expected
            for synthetic in sensors:
                synthetic.silence('scan', 'camera', 'odom')
    finally:
        server.stop()


def latest_status(dds, diagnostics, namespace, predicate, what):
    """Wait for a status of /<namespace>/inference_node satisfying ``predicate``."""
    def find():
        for array in reversed(diagnostics.messages()):
            for status in array.status:
                if status.hardware_id == f'/{namespace}/inference_node' and predicate(status):
                    return status
        return None
    return dds.wait_for(find, TIMEOUT, f'{namespace}: {what}')


def wait_command(dds, recorder, want, what):
    recorder.clear()

    def matches():
        msg = recorder.last()
        return msg is not None and _close((msg.linear.x, msg.angular.z), want)
    dds.wait_for(matches, START_TIMEOUT, what)


def test_served_commands_equal_the_local_computation_then_fall_back_or_stop(fleet):
    dds, server, expected = fleet
    diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)
    commands = {ns: dds.subscribe(Twist, f'/{ns}/cmd_vel', COMMAND_QOS) for ns in ROBOTS}
    for namespace, (adapter, _) in ROBOTS.items():
        wait_command(dds, commands[namespace], expected[namespace],
                     f'/{namespace}/cmd_vel from {adapter} via the server')
        status = latest_status(dds, diagnostics, namespace,
                               lambda s: int(status_values(s).get('serve.served', 0)) > 0,
                               'ticks served by the policy server')
        values = status_values(status)
        assert values['backend'] == 'serve' and values['serve.source'] == 'serve'
        assert values['serve.local'] == '0' and values['serve.stopped'] == '0'
        assert status.level == OK

    # A prefetch hint warms the predicted adapter on the replica that will serve it.
    hint = dds.publisher(String, '/r1/predicted_adapter', LATCHED_QOS)
    hint.publish(String(data='narrow_aisle'))
    latest_status(dds, diagnostics, 'r1',
                  lambda s: int(status_values(s).get('serve.warmed', 0)) > 0, 'a warmed hint')
    stats = PolicyClient(server.url, timeout_s=10.0).stats()
    assert 'narrow_aisle' in stats['resident'] and stats['loads'].get('narrow_aisle') == 1

    server.stop()
    status = latest_status(dds, diagnostics, 'r1',
                           lambda s: status_values(s).get('serve.source') == 'local',
                           'running on board after the server stopped')
    assert status.level == WARN and 'running on board' in status.message
    wait_command(dds, commands['r1'], expected['r1'], '/r1/cmd_vel from the on-board model')

    status = latest_status(dds, diagnostics, 'r2', lambda s: s.level == ERROR,
                           'ERROR after the server stopped')
    assert 'policy server unavailable' in status.message
    assert int(status_values(status)['serve.stopped']) > 0
    commands['r2'].clear()
    dds.wait_for(lambda: commands['r2'].count() >= 5, TIMEOUT, '/r2/cmd_vel keeps publishing')
    assert all(m.linear.x == 0.0 and m.angular.z == 0.0 for m in commands['r2'].messages())
