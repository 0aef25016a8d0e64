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
The README's main job end to end: ``adapter-switcher demo`` over DDS, as separate processes.

One episode at twice real time on its own DDS domain: the command must exit 0, and its report
must show the robot reaching the end of the aisle without collision, the inference node
switching to the hazard adapter and back, and the swap statistics from /diagnostics.
"""

import subprocess
import sys

from dds_harness import node_env
import pytest

DOMAIN_ID = 88


@pytest.mark.dds
@pytest.mark.sim
def test_demo_drives_an_episode_and_reports_it(tmp_path):
    log = tmp_path / 'nodes.log'
    command = [sys.executable, '-m', 'adapter_switcher.cli', 'demo', '--episodes', '1',
               '--real-time-factor', '2.0', '--log', str(log)]
    done = subprocess.run(command, env=node_env(DOMAIN_ID), capture_output=True, text=True,
                          timeout=240)
    report = done.stdout
    assert done.returncode == 0, report + done.stderr + log.read_text()[-3000:]
    assert 'episode seed 0: success' in report
    assert 'collisions 0' in report
    assert 'active adapter -> hazard' in report and 'active adapter -> navigation' in report
    assert 'inference node: swaps' in report and 'prefetch_hit_rate' in report
    assert '[inference_node]' in log.read_text()
