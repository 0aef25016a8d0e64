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

"""A node with a bad configuration exits with status 1 and one line that names the problem."""

import subprocess
import sys

from adapter_switcher.demo.adapters import make_demo_adapters

from dds_harness import node_env
import pytest

pytestmark = pytest.mark.dds

DOMAIN_ID = 43
TIMEOUT = 120


def _run(module, *ros_args):
    argv = [sys.executable, '-m', module, '--ros-args', *ros_args]
    return subprocess.run(argv, env=node_env(DOMAIN_ID), capture_output=True, text=True,
                          timeout=TIMEOUT)


def test_context_manager_without_its_rules_file(tmp_path):
    missing = tmp_path / 'nope.yaml'
    done = _run('adapter_switcher.nodes.context_manager_node', '-p', f'rules_file:={missing}')
    assert done.returncode == 1
    assert f'cannot start: rules_file {missing}' in done.stderr + done.stdout
    assert 'Traceback' not in done.stderr


def test_inference_node_with_an_unknown_override(tmp_path):
    make_demo_adapters(tmp_path)
    done = _run('adapter_switcher.nodes.inference_node',
                '-p', f'model_weights:={tmp_path / "base_policy.safetensors"}',
                '-p', f'adapters_dirs:=[{tmp_path / "adapters"}]',
                '-p', 'adapter_override:=nosuch')
    output = done.stderr + done.stdout
    assert done.returncode == 1, output
    assert 'cannot start: adapter_override:' in output and 'nosuch' in output
    assert 'Traceback' not in output


def test_inference_node_without_its_weights(tmp_path):
    done = _run('adapter_switcher.nodes.inference_node',
                '-p', f'model_weights:={tmp_path / "none.safetensors"}')
    output = done.stderr + done.stdout
    assert done.returncode == 1 and 'make-demo-adapters' in output and 'Traceback' not in output
