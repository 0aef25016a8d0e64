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

"""Shared pytest set-up: the tests' helpers beside them on the path, and a ROS context fixture."""

import os
from pathlib import Path
import sys

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def context(request):
    """
    Give an rclpy context on the test module's own ``DOMAIN`` (localhost discovery); shut it down.

    Each DDS test module names its domain, so modules running at once never see each other.
    """
    import rclpy
    from rclpy.context import Context

    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    ros_context = Context()
    rclpy.init(context=ros_context, domain_id=request.module.DOMAIN)
    yield ros_context
    ros_context.try_shutdown()
