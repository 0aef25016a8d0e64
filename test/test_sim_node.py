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
The simulator node over DDS: its topics, its reset service, its parameters, /cmd_vel.

One simulator process per test on its own domain, at twice real time; the test process is a
plain ROS client of it.
"""

from dataclasses import replace
import math
import time

from adapter_switcher.nodes.conversions import odom_to_pose
from adapter_switcher.paths import share_path
from adapter_switcher.sim.launch_nodes import expert_driver_node_spec
from adapter_switcher.sim.launch_nodes import simulator_node_spec
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import sample_episode
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world

from dds_harness import DdsHarness
from geometry_msgs.msg import Twist
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan
from std_srvs.srv import Trigger

RTF = 2.0


def _drive(publisher, make, odom, distance=0.6, timeout=30.0):
    """
    Publish a 0.5 m/s forward command at 20 Hz until the robot is ``distance`` from its start.

    Bounded by ``timeout`` seconds of wall time; return the start and end poses. (Not a fixed
    drive time: on a loaded machine the simulator runs slower than its real-time factor.)
    """
    start = odom_to_pose(odom.last())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if math.dist(start[:2], odom_to_pose(odom.last())[:2]) >= distance:
            break
        publisher.publish(make())
        time.sleep(0.05)
    return start, odom_to_pose(odom.last())


@pytest.mark.dds
@pytest.mark.sim
def test_simulator_node_topics_reset_and_cmd_vel(tmp_path):
    world = load_world(share_path(DEFAULT_WORLD))
    with DdsHarness(25, tmp_path, node_name='simulator_test') as dds:
        clock = dds.subscribe(Clock, '/clock', 10)
        scan = dds.subscribe(LaserScan, '/scan', 10)
        image = dds.subscribe(Image, '/camera/image_raw', 10)
        info = dds.subscribe(CameraInfo, '/camera/camera_info', 10)
        odom = dds.subscribe(Odometry, '/odom', 10)
        dds.start(simulator_node_spec(real_time_factor=RTF))
        dds.wait_for(lambda: min(r.count() for r in (clock, scan, image, info, odom)) > 0, 30,
                     'every sensor topic')

        lidar, camera = world.robot.lidar, world.robot.camera
        msg = scan.last()
        assert (msg.header.frame_id, len(msg.ranges)) == (lidar.frame_id, lidar.samples)
        assert (msg.range_min, msg.range_max) == pytest.approx((lidar.range_min, lidar.range_max))
        msg = image.last()
        assert (msg.encoding, msg.width, msg.height, msg.step) == ('rgb8', 160, 120, 480)
        assert len(msg.data) == 160 * 120 * 3 and msg.header.frame_id == camera.frame_id
        msg = info.last()
        fx, fy, cx, cy = camera.intrinsics()
        assert list(msg.k) == pytest.approx([fx, 0, cx, 0, fy, cy, 0, 0, 1])
        msg = odom.last()
        assert (msg.header.frame_id, msg.child_frame_id) == ('odom', world.robot.base_frame)

        results = dds.set_parameters('/simulator', {'seed': 5})
        assert results[0].successful
        response = dds.call_service(Trigger, '/simulator/reset', Trigger.Request())
        assert response.success and 'seed 5' in response.message
        episode = sample_episode(load_scenario(share_path(DEFAULT_SCENARIO)), 5)

        def at_start():
            x, y, yaw = odom_to_pose(odom.last())
            return math.dist((x, y), episode.start[:2]) < 1e-6 and \
                abs(yaw - episode.start[2]) < 1e-6
        dds.wait_for(at_start, 10, 'odometry at the new episode start')

        def forward():
            twist = Twist()
            twist.linear.x = 0.5
            return twist
        publisher = dds.publisher(Twist, '/cmd_vel', 10)
        dds.wait_for_subscribers(publisher)
        start, end = _drive(publisher, forward, odom)
        heading = (math.cos(start[2]), math.sin(start[2]))
        moved = (end[0] - start[0]) * heading[0] + (end[1] - start[1]) * heading[1]
        assert moved > 0.5
        assert any(m.twist.twist.linear.x == 0.5 for m in odom.messages())

        rejected = dds.set_parameters('/simulator', {'real_time_factor': -1.0})
        assert not rejected[0].successful
        assert dds.get_parameters('/simulator', ['real_time_factor']) == {
            'real_time_factor': RTF}


@pytest.mark.dds
@pytest.mark.sim
def test_simulator_node_takes_twist_stamped_when_enabled(tmp_path):
    with DdsHarness(26, tmp_path, node_name='simulator_stamped_test') as dds:
        odom = dds.subscribe(Odometry, '/odom', 10)
        dds.start(simulator_node_spec(real_time_factor=RTF, enable_stamped_cmd_vel=True))
        dds.wait_for(lambda: odom.count() > 0, 30, 'odometry')
        publisher = dds.publisher(TwistStamped, '/cmd_vel', 10)
        dds.wait_for_subscribers(publisher)

        def forward():
            msg = TwistStamped()
            msg.twist.linear.x = 0.5
            return msg
        start, end = _drive(publisher, forward, odom)
        assert math.dist(start[:2], end[:2]) > 0.5


@pytest.mark.dds
@pytest.mark.sim
def test_nodes_with_bad_configuration_exit_with_one_clear_line(tmp_path):
    broken = tmp_path / 'scenario.yaml'
    broken.write_text(share_path(DEFAULT_SCENARIO).read_text().replace(
        'tolerance: 0.4', 'tolerance: -1'))
    with DdsHarness(25, tmp_path / 'logs', node_name='startup_test') as dds:
        simulator = dds.start(simulator_node_spec(scenario=str(broken)))
        driver = dds.start(replace(expert_driver_node_spec(), parameters=({'expert': 'wander'},)))
        fast_clock = dds.start(simulator_node_spec(clock_rate_hz=200.0))
        for process, message in ((simulator, 'route.tolerance: expected a finite number'),
                                 (fast_clock, 'clock_rate_hz 200 is above physics_rate_hz 100'),
                                 (driver, 'expert must be one of navigation, hazard, auto, '
                                          "got 'wander'")):
            dds.wait_for(lambda: not process.alive(), 30, f'{process.name} exits',
                         require_alive=False)
            assert process.popen.returncode == 1
            assert message in process.tail() and 'Traceback' not in process.tail()


@pytest.mark.dds
@pytest.mark.sim
def test_free_running_clock_advances_at_clock_rate(tmp_path):
    """/clock comes at ``clock_rate_hz`` of sim time, not once per physics step."""
    with DdsHarness(25, tmp_path, node_name='clock_rate_test') as dds:
        clock = dds.subscribe(Clock, '/clock', 100)
        odom = dds.subscribe(Odometry, '/odom', 100)
        dds.start(simulator_node_spec(real_time_factor=RTF, clock_rate_hz=10.0))
        dds.wait_for(lambda: clock.count() > 8 and odom.count() > 8, 30, 'clock and odometry')
        stamps = [m.clock.sec * 10**9 + m.clock.nanosec for m in clock.messages()]
        steps = [b - a for a, b in zip(stamps, stamps[1:])]
        # 10 Hz on a 100 Hz physics clock: every 10th step; a lost message doubles one gap.
        assert steps and all(s > 0 and s % 100_000_000 == 0 for s in steps)
        assert sorted(steps)[len(steps) // 2] == 100_000_000
        # The sensors keep their own rates: odometry (50 Hz) is stamped between clock updates.
        odom_stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec
                       for m in odom.messages()]
        assert any(s % 100_000_000 for s in odom_stamps)
