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

"""The inference node's state file: atomic writes, round trips, corrupt files reported."""

import json
import os
import subprocess
import sys

from adapter_switcher.atomic_file import write_atomically
from adapter_switcher.nodes.inference_state import InferenceState
from adapter_switcher.nodes.inference_state import StateFile

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

HAZARD = InferenceState(active='hazard', adapter_version='2', auto_mode=False,
                        override='hazard')


def test_state_round_trips_and_is_written_only_when_it_changes(tmp_path):
    path = tmp_path / 'deep' / 'state.json'
    states = StateFile(path)
    assert states.load() == (None, None)
    assert states.save(HAZARD) and not states.save(HAZARD)
    assert StateFile(path).load() == (HAZARD, None)
    assert states.save(InferenceState(active='navigation'))
    assert StateFile(path).load()[0].active == 'navigation'
    assert [p.name for p in path.parent.iterdir()] == ['state.json']  # no temporary left


@pytest.mark.parametrize('text, problem', [
    ('', 'not JSON'),
    ('{"format": "adapter_switcher.inference_state", "version": 1, "active": "haz', 'not JSON'),
    ('[]', 'not a adapter_switcher.inference_state file'),
    ('{"format": "other"}', 'not a adapter_switcher.inference_state file'),
    (json.dumps({**json.loads(HAZARD.to_json()), 'version': 7}), 'version 7, expected 1'),
    (json.dumps({**json.loads(HAZARD.to_json()), 'auto_mode': 'yes'}), 'auto_mode must be a'),
    (json.dumps({**json.loads(HAZARD.to_json()), 'active': None}), 'active must be a str'),
    (json.dumps({**json.loads(HAZARD.to_json()), 'override': 'narrow'}), 'is not the active'),
])
def test_a_corrupt_file_is_reported_with_its_path_and_ignored(tmp_path, text, problem):
    path = tmp_path / 'state.json'
    path.write_text(text)
    state, reported = StateFile(path).load()
    assert state is None
    assert reported.startswith(f'state file {path} is corrupt (') and problem in reported
    assert reported.endswith('ignoring it') and '\n' not in reported


def test_binary_garbage_is_reported_not_raised(tmp_path):
    path = tmp_path / 'state.json'
    path.write_bytes(b'\xff\xfe\x00garbage')
    state, reported = StateFile(path).load()
    assert state is None and str(path) in reported


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_no_bytes_make_loading_raise(tmp_path_factory, data):
    path = tmp_path_factory.mktemp('fuzz') / 'state.json'
    path.write_bytes(data)
    state, problem = StateFile(path).load()
    assert (state is None) != (problem is None)
    assert problem is None or str(path) in problem


WRITER = """
import sys
from adapter_switcher.atomic_file import write_atomically
path = sys.argv[1]
i = 0
while True:
    i += 1
    write_atomically(path, ('%08d' % i) * 4096)
"""


def test_a_writer_killed_at_any_moment_leaves_a_whole_file(tmp_path):
    """SIGKILL a process in the middle of rewriting: the file is the old or the new, whole."""
    path = tmp_path / 'state.json'
    write_atomically(path, '00000000' * 4096)
    env = dict(os.environ)
    for _ in range(5):
        writer = subprocess.Popen([sys.executable, '-c', WRITER, str(path)], env=env)
        try:
            writer.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait(timeout=30)
        text = path.read_text()
        assert len(text) == 8 * 4096 and text == text[:8] * 4096
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != 'state.json']
    assert all(name.endswith('.tmp') for name in leftovers)
