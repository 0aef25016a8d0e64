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

"""``adapter-switcher bringup`` for real: both nodes in a namespace, the params file, Ctrl-C."""

import signal
import sys

from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import Scene
from dds_harness import SyntheticSensors
import pytest
from std_msgs.msg import String
from std_srvs.srv import Trigger
import yaml

pytestmark = pytest.mark.dds

DOMAIN_ID = 42
START_TIMEOUT = 120.0
TIMEOUT = 30.0


def _params_file(tmp_path, demo_dir):
    """Write the package's params file with the demo weights and a recognisable rate_hz."""
    params = yaml.safe_load(share_path('config/adapter_switcher.yaml').read_text())
    inference = params['/**/inference_node']['ros__parameters']
    inference['model_weights'] = str(demo_dir / 'base_policy.safetensors')
    inference['rate_hz'] = 15.0
    inference['sensor_timeout_s'] = 2.0
    path = tmp_path / 'robot.yaml'
    path.write_text(yaml.safe_dump(params))
    return path


def test_bringup_starts_both_nodes_with_the_params_file_and_stops_on_sigint(tmp_path):
    demo_dir = tmp_path / 'demo'
    make_demo_adapters(demo_dir)
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--namespace', 'robot1',
            '--params-file', str(_params_file(tmp_path, demo_dir)),
            '--adapters-dir', str(demo_dir / 'adapters')]
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene(), namespace='/robot1')
        active = dds.subscribe(String, '/robot1/active_adapter', LATCHED_QOS)
        bringup = dds.start_argv('bringup', argv)
        dds.wait_for(lambda: active.last() is not None and active.last().data == 'navigation',
                     START_TIMEOUT, '/robot1/active_adapter navigation')
        both = {('context_manager', '/robot1'), ('inference_node', '/robot1')}
        dds.wait_for(lambda: both <= set(dds.node.get_node_names_and_namespaces()), TIMEOUT,
                     'both nodes in the ROS graph')     # graph discovery lags the topics
        assert dds.get_parameters('/robot1/inference_node', ['rate_hz', 'adapters_dirs']) == {
            'rate_hz': 15.0, 'adapters_dirs': [str((demo_dir / 'adapters').resolve())]}
        listing = dds.call_service(Trigger, '/robot1/inference_node/list_adapters',
                                   Trigger.Request(), TIMEOUT)
        assert listing.success and 'navigation [active' in listing.message

        bringup.popen.send_signal(signal.SIGINT)
        dds.wait_for(lambda: bringup.popen.poll() is not None, TIMEOUT,
                     'bringup to exit after SIGINT', require_alive=False)
        assert bringup.popen.returncode == 0, dds.logs()
        log = bringup.tail(20000)
        assert '[context_manager]' in log and '[inference_node]' in log
        assert 'stop requested; stopping all nodes' in log
        assert 'Traceback' not in log
