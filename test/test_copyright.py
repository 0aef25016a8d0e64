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

"""Every Python source carries the Apache-2.0 licence header (as ament_copyright checks)."""

from lint_paths import python_sources
import pytest

HEADER_LINES = (
    '# Copyright ',
    '#',
    '# Licensed under the Apache License, Version 2.0 (the "License");',
)


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    missing = []
    for path in python_sources():
        head = path.read_text(encoding='utf-8').splitlines()[:3]
        complete = len(head) == len(HEADER_LINES)
        if not complete or not all(ln.startswith(want) for ln, want in zip(head, HEADER_LINES)):
            missing.append(str(path))
    assert not missing, 'Files without the Apache-2.0 header:\n' + '\n'.join(missing)
