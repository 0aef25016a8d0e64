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

"""robot_node_specs: the one node list behind robot.launch.py and ``adapter-switcher bringup``."""

from pathlib import Path
import sys

from adapter_switcher.bringup.robot_nodes import parse_bool
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.paths import share_path

import pytest


def _by_name(specs):
    return {spec.name: spec for spec in specs}


def test_default_specs_start_both_nodes_with_the_package_params_file():
    specs = _by_name(robot_node_specs())
    assert set(specs) == {'context_manager', 'inference_node'}
    default_file = str(share_path('config/adapter_switcher.yaml').resolve())
    for spec in specs.values():
        assert spec.parameters[0] == default_file
        assert spec.parameters[1] == {'use_sim_time': False}
        assert spec.namespace == ''
    assert specs['context_manager'].module == 'adapter_switcher.nodes.context_manager_node'
    assert specs['inference_node'].module == 'adapter_switcher.nodes.inference_node'


def test_command_runs_the_module_with_ros_arguments():
    spec = _by_name(robot_node_specs(namespace='robot1', use_sim_time=True))['inference_node']
    argv = spec.command()
    assert argv[:4] == [sys.executable, '-m', 'adapter_switcher.nodes.inference_node',
                        '--ros-args']
    assert argv[argv.index('__ns:=/robot1') - 1] == '-r'
    assert '__node:=inference_node' in argv
    assert argv[argv.index('--params-file') + 1] == spec.parameters[0]
    assert argv[argv.index('use_sim_time:=true') - 1] == '-p'


def test_launch_kwargs_match_the_process_command():
    spec = _by_name(robot_node_specs(namespace='/robot1/'))['context_manager']
    kwargs = spec.launch_kwargs()
    assert kwargs['package'] == 'adapter_switcher'
    assert kwargs['executable'] == 'context_manager'
    assert kwargs['name'] == 'context_manager'
    assert kwargs['namespace'] == 'robot1'
    assert kwargs['parameters'] == list(spec.parameters)


def test_adapters_dir_overrides_only_the_inference_node(tmp_path):
    specs = _by_name(robot_node_specs(adapters_dir=tmp_path))
    assert specs['inference_node'].parameters[1]['adapters_dirs'] == [str(tmp_path.resolve())]
    assert 'adapters_dirs' not in specs['context_manager'].parameters[1]


@pytest.mark.parametrize('value, expected', [
    ('true', True), ('True', True), ('1', True), (True, True),
    ('false', False), ('FALSE', False), ('0', False), ('', False), (False, False)])
def test_launch_argument_strings_become_booleans(value, expected):
    spec = robot_node_specs(use_sim_time=value)[0]
    assert spec.parameters[1]['use_sim_time'] is expected


def test_a_bad_boolean_is_refused_by_value():
    with pytest.raises(ValueError, match="'maybe'"):
        parse_bool('maybe')


def test_empty_strings_mean_not_given_as_launch_arguments_pass_them():
    specs = _by_name(robot_node_specs(namespace='', params_file='', adapters_dir=''))
    assert specs['inference_node'].parameters[0].endswith('config/adapter_switcher.yaml')
    assert 'adapters_dirs' not in specs['inference_node'].parameters[1]


def test_custom_params_file_is_used_and_a_missing_one_refused(tmp_path):
    params = tmp_path / 'robot.yaml'
    params.write_text('{}\n')
    specs = robot_node_specs(params_file=params)
    assert all(spec.parameters[0] == str(params.resolve()) for spec in specs)
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        robot_node_specs(params_file=Path(tmp_path / 'nope.yaml'))


def test_managed_nodes_wait_for_a_lifecycle_manager_that_drives_both():
    specs = robot_node_specs(namespace='robot1', managed='true')
    assert [s.name for s in specs] == ['context_manager', 'inference_node', 'lifecycle_manager']
    for spec in specs[:2]:
        assert spec.parameters[1]['autostart'] is False
    manager = specs[2].parameters[0]
    assert manager['node_names'] == ['context_manager', 'inference_node']
    assert manager['autostart'] is True and specs[2].namespace == 'robot1'
    assert specs[2].module == 'adapter_switcher.nodes.lifecycle_manager_node'
    assert all('autostart' not in s.parameters[1] for s in robot_node_specs(managed=False))


def test_respawn_reaches_the_robot_nodes_and_launch():
    specs = robot_node_specs(respawn='true')
    assert all(s.respawn for s in specs)
    assert specs[1].launch_kwargs()['respawn'] is True
    assert not any(s.respawn for s in robot_node_specs())


@pytest.mark.parametrize('argument', ['managed', 'respawn', 'use_sim_time'])
def test_a_bad_boolean_argument_is_named(argument):
    with pytest.raises(ValueError, match=f"^{argument}: expected true or false, got 'yes please'"):
        robot_node_specs(**{argument: 'yes please'})


def test_state_dir_gives_both_nodes_their_state_files(tmp_path, monkeypatch):
    specs = _by_name(robot_node_specs(state_dir=tmp_path))
    assert specs['inference_node'].parameters[1]['state_file'] == str(
        tmp_path.resolve() / 'inference_node_state.json')
    assert specs['context_manager'].parameters[1]['transitions_file'] == str(
        tmp_path.resolve() / 'adapter_transitions.json')
    assert 'state_file' not in _by_name(robot_node_specs())['inference_node'].parameters[1]
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'ros_home'))
    respawning = _by_name(robot_node_specs(namespace='robot1', respawn=True))
    assert respawning['inference_node'].parameters[1]['state_file'] == str(
        tmp_path / 'ros_home' / 'adapter_switcher' / 'state' / 'robot1' /
        'inference_node_state.json')
