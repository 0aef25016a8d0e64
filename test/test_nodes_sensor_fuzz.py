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
Malformed sensor messages through the nodes' sensor input path.

The curated cases (malformed_inputs.SENSOR_CASES) must each be dropped and counted, never
counted as the sensor being alive; hypothesis then throws arbitrary field values at the same
input path: nothing may raise, and whatever is accepted gives finite features.
"""

import math

from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.rules import load_rules
from adapter_switcher.nodes.sensor_inputs import SENSOR_TOPICS
from adapter_switcher.nodes.sensor_inputs import SensorInputs
from adapter_switcher.paths import share_path

from dds_harness import Scene
from dds_harness import scene_image
from dds_harness import scene_odom
from dds_harness import scene_scan
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from malformed_inputs import deliver
from malformed_inputs import SENSOR_CASES
from nav_msgs.msg import Odometry
import pytest
import rclpy
from rclpy.context import Context
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan


class Inputs:
    """SensorInputs on a real (unspun) node; deliver() hands it serialized messages."""

    def __init__(self):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=52)
        self.node = rclpy.create_node('sensor_fuzz', context=self.context)
        features = load_rules(share_path('config/context_rules.yaml')).features
        self.inputs = SensorInputs(self.node, FeatureExtractor(features))

    def deliver(self, sensor, msg):
        deliver(self.inputs, sensor, msg)

    def close(self):
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture(scope='module')
def inputs():
    result = Inputs()
    yield result
    result.close()


def test_there_are_at_least_thirty_cases():
    assert len(SENSOR_CASES) >= 30
    assert {sensor for _, sensor, _ in SENSOR_CASES} == set(SENSOR_TOPICS)


@pytest.mark.parametrize('case, sensor, make', SENSOR_CASES, ids=[c[0] for c in SENSOR_CASES])
def test_a_malformed_message_is_dropped_and_does_not_keep_the_sensor_alive(
        inputs, case, sensor, make):
    before_seen = inputs.inputs.last_seen().get(sensor)
    before_dropped = inputs.inputs.dropped()[sensor]
    inputs.deliver(sensor, make())
    assert inputs.inputs.dropped()[sensor] == before_dropped + 1, case
    assert inputs.inputs.last_seen().get(sensor) == before_seen, case


def test_valid_messages_are_still_taken(inputs):
    dropped = inputs.inputs.dropped()
    for sensor, msg in (('scan', scene_scan(Scene())), ('camera', scene_image(Scene())),
                        ('odom', scene_odom(Scene()))):
        inputs.deliver(sensor, msg)
        assert sensor in inputs.inputs.last_seen()
    assert inputs.inputs.dropped() == dropped


def test_junk_arriving_after_a_valid_message_does_not_hide_it(inputs):
    for sensor, valid in (('scan', scene_scan(Scene())), ('camera', scene_image(Scene())),
                          ('odom', scene_odom(Scene()))):
        junk = [make() for _, s, make in SENSOR_CASES if s == sensor][:3]
        inputs.inputs.last_seen()                     # read: nothing pending
        dropped = inputs.inputs.dropped()[sensor]
        before = inputs.node.get_clock().now().nanoseconds * 1e-9
        inputs.deliver(sensor, valid)
        for msg in junk:                              # newer than the valid one, same read
            inputs.deliver(sensor, msg)
        assert inputs.inputs.last_seen()[sensor] >= before, sensor
        assert inputs.inputs.dropped()[sensor] == dropped + len(junk), sensor


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)


@st.composite
def scans(draw):
    msg = LaserScan()
    msg.angle_min, msg.angle_max, msg.angle_increment = (draw(FLOATS) for _ in range(3))
    msg.range_min, msg.range_max = draw(FLOATS), draw(FLOATS)
    msg.ranges = draw(st.lists(FLOATS, max_size=64))
    return msg


@st.composite
def images(draw):
    msg = Image()
    msg.height, msg.width = draw(st.integers(0, 70)), draw(st.integers(0, 70))
    msg.step = draw(st.integers(0, 300))
    msg.encoding = draw(st.sampled_from(['rgb8', 'bgr8', 'mono8', 'rgba8', '16UC1', '', 'x']))
    msg.data = draw(st.binary(max_size=4096))
    return msg


@st.composite
def odoms(draw):
    msg = Odometry()
    twist = msg.twist.twist
    twist.linear.x, twist.linear.y, twist.angular.z = (
        draw(st.floats(allow_nan=True, allow_infinity=True)) for _ in range(3))
    return msg


def _check_features_finite(inputs):
    values = inputs.inputs.snapshot(inputs.node.get_clock().now().nanoseconds * 1e-9).values
    numbers = {k: v for k, v in values.items() if isinstance(v, float)}
    assert all(math.isfinite(v) for v in numbers.values()), numbers


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(scans().map(lambda m: ('scan', m)), images().map(lambda m: ('camera', m)),
                 odoms().map(lambda m: ('odom', m))))
def test_arbitrary_fields_never_raise_and_what_is_taken_is_finite(inputs, item):
    sensor, msg = item
    dropped = inputs.inputs.dropped()[sensor]
    seen = inputs.inputs.last_seen().get(sensor)
    inputs.deliver(sensor, msg)
    taken = inputs.inputs.last_seen().get(sensor) != seen
    assert taken != (inputs.inputs.dropped()[sensor] == dropped + 1)
    _check_features_finite(inputs)
