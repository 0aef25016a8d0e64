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

"""The context package stays free of ROS: it must run where rclpy does not exist."""

import subprocess
import sys

PROBE = """
import sys
import adapter_switcher.context
ros = sorted(name for name in sys.modules
             if name.split('.')[0] in ('rclpy', 'rosidl_runtime_py')
             or name.split('.')[0].endswith('_msgs'))
print(' '.join(ros))
"""


def test_importing_the_context_package_imports_no_ros_module():
    result = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == ''
