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

"""The one rule for relative file parameters: the package share directory, else the cwd."""

from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.paths import share_dir


def test_share_directory_first_then_working_directory_then_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'config').mkdir()
    (tmp_path / 'config' / 'demo_scenario.yaml').write_text('a copy in the working dir\n')
    (tmp_path / 'mine.yaml').write_text('only here\n')
    # A package file wins over a same-named file in the working directory.
    assert resolve_path('config/demo_scenario.yaml') == share_dir() / 'config/demo_scenario.yaml'
    # A file the package does not have is taken from the working directory.
    assert resolve_path('mine.yaml') == tmp_path / 'mine.yaml'
    # Neither: reported where it was looked for last, the working directory.
    assert resolve_path('none.yaml') == tmp_path / 'none.yaml'
    assert resolve_path(str(tmp_path / 'mine.yaml')) == tmp_path / 'mine.yaml'
