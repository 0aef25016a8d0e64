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
``adapter-switcher demo`` in free-running mode (``--real-time-factor``), as ros2 launch runs.

One episode at twice real time on its own DDS domain. Free-running, the outcome depends on the
machine's speed (the lock-step default does not: test_demo_lockstep_equality.py), so this checks
that the run completes and reports: the episode line, the table, the swap statistics, the
output folder, and the nodes' log inside it.
"""

import json
import subprocess
import sys

from dds_harness import node_env
import pytest

DOMAIN_ID = 88


@pytest.mark.dds
@pytest.mark.sim
def test_free_running_demo_drives_an_episode_and_reports_it(tmp_path):
    out = tmp_path / 'out'
    command = [sys.executable, '-m', 'adapter_switcher.cli', 'demo', '--episodes', '1',
               '--real-time-factor', '2.0', '--out', str(out), '--no-video']
    done = subprocess.run(command, env=node_env(DOMAIN_ID), capture_output=True, text=True,
                          timeout=600)
    log = out / 'demo_nodes.log'
    report = done.stdout
    assert done.returncode in (0, 1), report + done.stderr + log.read_text()[-3000:]
    assert 'free-running at 2x real time' in report
    assert 'episode seed 0: ' in report and 'inference node: swaps' in report
    assert f'outputs in {out}' in report
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['mode'] == 'free-running' and len(summary['episodes']) == 1
    assert done.returncode == (0 if summary['episodes'][0]['success'] else 1)
    assert (out / 'timeline.png').stat().st_size > 0 and not (out / 'demo.mp4').exists()
    assert '[inference_node]' in log.read_text()
