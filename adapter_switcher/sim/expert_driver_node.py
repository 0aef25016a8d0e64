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
The expert driver node: a scripted expert drives the robot from its sensor topics.

Subscribes /scan, /odom and (hazard and auto experts) /camera/image_raw; publishes /cmd_vel at
each scan, and the latched ``~/route_progress`` (std_msgs/UInt32: waypoints reached) and
``~/active_expert`` (std_msgs/String: navigation or hazard). ``expert``: ``navigation`` follows
the route; ``hazard`` also avoids a spill it sees; ``auto`` drives like ``hazard`` and reports
``hazard`` as active only while the spill is in view or being passed, which labels the data for
training the adapters. ``~/reset`` (std_srvs/Trigger) restarts the route from where the robot is.
Run it with ``use_sim_time:=true`` against a simulator.
"""

import sys
from typing import Optional, Tuple

from adapter_switcher.nodes.conversions import image_to_array
from adapter_switcher.nodes.conversions import odom_to_pose
from adapter_switcher.nodes.conversions import scan_to_data
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.nodes.qos import SENSOR_QOS
from adapter_switcher.nodes.runner import run_node
from adapter_switcher.nodes.runner import StartupError
from adapter_switcher.paths import share_path
from adapter_switcher.sim import topics
from adapter_switcher.sim.experts import hazard_expert
from adapter_switcher.sim.experts import navigation_expert
from adapter_switcher.sim.experts import Scan
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import ScenarioError
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.sdf_world import WorldError

from geometry_msgs.msg import Twist
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String
from std_msgs.msg import UInt32
from std_srvs.srv import Trigger

EXPERTS = ('navigation', 'hazard', 'auto')
COLOUR_ENCODINGS = {'rgb8': 1, 'bgr8': -1}  # encoding -> channel step that gives RGB


class ExpertDriverNode(Node):
    """Drive with a scripted expert."""

    def __init__(self):
        super().__init__('expert_driver')
        kind = self.declare_parameter('expert', 'auto', ParameterDescriptor(
            description=f'which expert drives: {", ".join(EXPERTS)}', read_only=True)).value
        world_path = self.declare_parameter(
            'world', str(share_path(DEFAULT_WORLD)), ParameterDescriptor(
                description='SDF world file (robot footprint, sensor mounts)',
                read_only=True)).value
        scenario_path = self.declare_parameter(
            'scenario', str(share_path(DEFAULT_SCENARIO)), ParameterDescriptor(
                description='scenario YAML (route, spill colour)', read_only=True)).value
        stamped = self.declare_parameter('enable_stamped_cmd_vel', False, ParameterDescriptor(
            description='publish /cmd_vel as TwistStamped instead of Twist',
            read_only=True)).value
        if kind not in EXPERTS:
            raise StartupError(f'expert must be one of {", ".join(EXPERTS)}, got {kind!r}')
        try:
            world, scenario = load_world(world_path), load_scenario(scenario_path)
        except (WorldError, ScenarioError) as exc:
            raise StartupError(str(exc)) from None
        self._kind = kind
        self._base_frame = world.robot.base_frame
        if kind == 'navigation':
            self._expert = navigation_expert(world, scenario)
        else:
            self._expert = hazard_expert(world, scenario)
        self._pose: Optional[Tuple[float, float, float]] = None
        self._published: Tuple[Optional[int], Optional[str]] = (None, None)
        self._stamped = stamped
        self._cmd_pub = self.create_publisher(TwistStamped if stamped else Twist,
                                              topics.CMD_VEL, COMMAND_QOS)
        self._progress_pub = self.create_publisher(UInt32, '~/route_progress', LATCHED_QOS)
        self._active_pub = self.create_publisher(String, '~/active_expert', LATCHED_QOS)
        self.create_subscription(Odometry, topics.ODOM, self._on_odom, SENSOR_QOS)
        self.create_subscription(LaserScan, topics.SCAN, self._on_scan, SENSOR_QOS)
        if kind != 'navigation':
            self.create_subscription(Image, topics.IMAGE, self._on_image, SENSOR_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self._report()
        self.get_logger().info(f'{kind} expert driving a route of '
                               f'{len(scenario.waypoints)} waypoints')

    def _on_odom(self, msg: Odometry):
        self._pose = odom_to_pose(msg)

    def _on_image(self, msg: Image):
        if self._pose is None:
            return
        try:
            image, encoding = image_to_array(msg)
        except ValueError as exc:
            self.get_logger().warn(f'image dropped: {exc}', throttle_duration_sec=5.0)
            return
        if encoding not in COLOUR_ENCODINGS:
            self.get_logger().warn(f'image dropped: the spill is found by colour, '
                                   f'{encoding} has none', throttle_duration_sec=5.0)
            return
        self._expert.observe(image[:, :, ::COLOUR_ENCODINGS[encoding]], self._pose)

    def _on_scan(self, msg: LaserScan):
        if self._pose is None:
            return
        was_done = self._expert.done
        scan = scan_to_data(msg)
        v, w = self._expert.act(self._pose, Scan(scan.ranges, scan.angle_min,
                                                 scan.angle_increment))
        if not was_done:  # after completion: one zero command, then leave /cmd_vel alone
            self._publish_command(v, w, msg.header.stamp)
        self._report()
        if self._expert.done and not was_done:
            self.get_logger().info('route complete')

    def _publish_command(self, v: float, w: float, stamp):
        twist = Twist()
        twist.linear.x, twist.angular.z = float(v), float(w)
        if self._stamped:
            msg = TwistStamped(twist=twist)
            msg.header.stamp = stamp
            msg.header.frame_id = self._base_frame
            self._cmd_pub.publish(msg)
        else:
            self._cmd_pub.publish(twist)

    def _report(self):
        progress = self._expert.waypoints_reached
        if self._kind == 'auto':
            active = 'hazard' if self._expert.active else 'navigation'
        else:
            active = self._kind
        if progress != self._published[0]:
            self._progress_pub.publish(UInt32(data=progress))
        if active != self._published[1]:
            self._active_pub.publish(String(data=active))
        self._published = (progress, active)

    def _on_reset(self, request, response):
        self._expert.reset()
        self._report()
        response.success, response.message = True, 'route restarted from the current pose'
        return response


def main(args=None):
    return run_node('expert_driver', ExpertDriverNode, args)


if __name__ == '__main__':
    sys.exit(main())
