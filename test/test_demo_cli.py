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
``adapter-switcher demo`` mistakes: each is one line on stderr, exit status 2, before any node.

Every case here returns before a node process could start; none needs DDS.
"""

import os
import subprocess
import sys

from adapter_switcher.sim import gl_backend
import pytest


def _cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, '-m', 'adapter_switcher.cli', *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def _assert_usage_error(done, *needles):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in done.stderr, done.stderr
    assert 'error' in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert done.stdout == ''


@pytest.mark.parametrize('args, needle', [
    (['--episodes', '0'], '--episodes'),
    (['--episodes', '-3'], '--episodes'),
    (['--episodes', 'two'], '--episodes'),
    (['--seed', '-1'], '--seed'),
    (['--real-time-factor', '-1'], '--real-time-factor'),
    (['--real-time-factor', '0'], '--real-time-factor'),
    (['--real-time-factor', 'nan'], '--real-time-factor'),
    (['--no-such-option'], 'unrecognized arguments'),
])
def test_bad_numbers_and_options_are_one_line_usage_errors(args, needle):
    _assert_usage_error(_cli('demo', *args), needle)


def test_unwritable_log_and_out_are_refused_and_leave_nothing_behind(tmp_path):
    _assert_usage_error(_cli('demo', '--out', str(tmp_path / 'out'),
                             '--log', '/nonexistent/dir/x.log'), '--log', 'x.log')
    assert not (tmp_path / 'out').exists()
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    _assert_usage_error(_cli('demo', '--out', str(blocker / 'sub')), '--out', 'cannot write')


def test_missing_adapters_dir_and_broken_rules_are_refused(tmp_path):
    out = str(tmp_path / 'out')
    _assert_usage_error(_cli('demo', '--out', out, '--adapters-dir', str(tmp_path / 'none')),
                        '--adapters-dir', 'not a directory')
    rules = tmp_path / 'rules.yaml'
    rules.write_text('default: navigation\nadapters: {navigation: {priority: 0}}\nbogus: 1\n')
    _assert_usage_error(_cli('demo', '--out', out, '--rules', str(rules)), '--rules', 'bogus')


def test_an_unknown_mujoco_gl_is_a_usage_error(tmp_path):
    env = dict(os.environ, MUJOCO_GL='vulkan')
    _assert_usage_error(_cli('demo', '--out', str(tmp_path / 'out'), env=env), 'MUJOCO_GL')


def test_without_mujoco_gl_or_display_a_headless_backend_is_chosen_or_named():
    env = {'PATH': '/usr/bin'}
    assert gl_backend.select(env, can_render=lambda backend: backend == 'osmesa') == 'osmesa'
    assert env['MUJOCO_GL'] == env['PYOPENGL_PLATFORM'] == 'osmesa'
    with pytest.raises(gl_backend.GLBackendError) as raised:
        gl_backend.select({}, can_render=lambda backend: False)
    message = str(raised.value)
    assert 'libegl1' in message and 'libosmesa6' in message and '\n' not in message
    # The real probe, on this machine: the backend the demo would use must work.
    chosen = gl_backend.select({}, can_render=gl_backend.probe)
    assert chosen in gl_backend.HEADLESS and gl_backend.probe(chosen)


def test_version_and_defaults_in_help():
    done = _cli('--version')
    assert done.returncode == 0 and done.stdout.startswith('adapter-switcher ')
    done = _cli('demo', '--help')
    assert done.returncode == 0
    text = ' '.join(done.stdout.split())
    assert '--episodes EPISODES episodes to drive (default: 3)' in text
    assert '(default: 0)' in text and 'demo_output/<date-time>/' in text
    for option in ('--adapters-dir', '--rules', '--bag', '--out', '--log'):
        assert option in text
