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

"""The ``adapter-switcher`` command line: arguments, refusals, and the demo assets command."""

from adapter_switcher.cli import build_parser
from adapter_switcher.cli import main

import pytest


def test_bringup_arguments_default_to_the_package_configuration():
    args = build_parser().parse_args(['bringup'])
    assert (args.namespace, args.params_file, args.adapters_dir) == ('', None, None)
    assert not args.use_sim_time and not args.with_sim


def test_with_sim_refuses_a_namespace_it_cannot_honour(capsys):
    assert main(['bringup', '--with-sim', '--namespace', 'robot1']) == 2
    assert 'cannot be combined with --namespace' in capsys.readouterr().err


def test_bringup_refuses_a_missing_params_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        main(['bringup', '--params-file', str(tmp_path / 'nope.yaml')])


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert 'make-demo-adapters' in capsys.readouterr().out


def test_make_demo_adapters_writes_the_base_and_the_adapters(tmp_path, capsys):
    assert main(['make-demo-adapters', '--out', str(tmp_path), '--steps', '20']) == 0
    assert (tmp_path / 'base_policy.safetensors').is_file()
    assert {p.name for p in (tmp_path / 'adapters').iterdir()} == {
        'hazard', 'narrow_aisle', 'navigation'}
    assert f'hazard: {tmp_path}' in capsys.readouterr().out
