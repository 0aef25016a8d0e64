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
Where the package's shared files (launch/, config/, worlds/, models/) are at run time.

A source checkout (an editable pip install, or running from the repository) uses the files in the
tree, so edits take effect without a reinstall; an installed package (colcon, or a regular pip
install) uses ``share/adapter_switcher`` found through the ament index, or under ``sys.prefix``.
"""

from pathlib import Path
import sys

PACKAGE = 'adapter_switcher'


def share_dir() -> Path:
    """Return the directory that holds launch/, config/, worlds/ and models/."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / 'package.xml').is_file() and (checkout / 'setup.py').is_file():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory
        from ament_index_python.packages import PackageNotFoundError
    except ImportError:
        return Path(sys.prefix) / 'share' / PACKAGE
    try:
        return Path(get_package_share_directory(PACKAGE))
    except PackageNotFoundError:
        return Path(sys.prefix) / 'share' / PACKAGE


def share_path(relative: str) -> Path:
    """Return the path of a shared file given relative to the share directory."""
    path = share_dir() / relative
    if not path.exists():
        raise FileNotFoundError(f'{relative} is not in the package share directory {share_dir()}')
    return path
