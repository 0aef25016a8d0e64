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
The nodes import only what a robot running them needs.

A node process pays for every module it imports in resident memory (issue 14's footprint:
torch's floor + 100 MB). The feature MLP and the visuomotor observation both run on a plain
torch base, so neither PEFT (nor the transformers it imports) nor the simulator (MuJoCo)
belongs in the inference node or the context manager; a stray import of a closed-loop module
once added 80 MB. The plan follower's route progress lives in ``adapter_switcher.route_progress``,
so the node does not import the simulator's experts either.
"""

import subprocess
import sys

import pytest

HEAVY = ('peft', 'transformers', 'mujoco', 'adapter_switcher.sim.simulator',
         'adapter_switcher.sim.experts', 'adapter_switcher.demo.closed_loop')


@pytest.mark.parametrize('module', ['adapter_switcher.nodes.inference_node',
                                    'adapter_switcher.nodes.context_manager_node',
                                    'adapter_switcher.nodes.observation'])
def test_node_modules_leave_heavy_packages_out(module):
    code = (f'import sys, {module}\n'
            f'print(" ".join(m for m in {HEAVY!r} if m in sys.modules))')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == []
