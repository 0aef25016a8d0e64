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

"""The Python sources the lint tests check: everything of ours, nothing from the environment."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_DIRS = ('adapter_switcher', 'test', 'bench', 'launch')
PYTHON_FILES = ('setup.py',)


def lint_targets():
    """Return the directories and files to lint, as strings, relative to nothing."""
    targets = [str(ROOT / d) for d in PYTHON_DIRS if (ROOT / d).is_dir()]
    return targets + [str(ROOT / f) for f in PYTHON_FILES]


def python_sources():
    """Every .py file under the lint targets."""
    for target in lint_targets():
        path = Path(target)
        if path.is_file():
            yield path
        else:
            yield from sorted(p for p in path.rglob('*.py') if '__pycache__' not in p.parts)
