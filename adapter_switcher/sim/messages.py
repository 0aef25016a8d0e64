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
Conversions between the simulator's data and ROS messages, both ways.

Large arrays go into messages through ``array.array`` built from bytes (the generated setters
accept it without a per-element check), which keeps a 160x120 image or a 360-beam scan at a
few microseconds instead of milliseconds.
"""

import array
import math
from typing import Sequence

from adapter_switcher.sim.sdf_world import CameraSpec
from adapter_switcher.sim.sdf_world import LidarSpec
from adapter_switcher.sim.simulator import Odometry as SimOdometry

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path
import numpy as np
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan


def stamp(time_ns: int) -> Time:
    """Return a ROS time from integer nanoseconds."""
    return Time(sec=time_ns // 1_000_000_000, nanosec=time_ns % 1_000_000_000)


def clock_message(time_ns: int) -> Clock:
    """Return a /clock message."""
    return Clock(clock=stamp(time_ns))


def yaw_quaternion(yaw: float) -> Quaternion:
    """Return the quaternion of a rotation about +z."""
    return Quaternion(z=math.sin(yaw / 2), w=math.cos(yaw / 2))


def scan_message(ranges: np.ndarray, spec: LidarSpec, time_ns: int, scan_time: float) -> LaserScan:
    """Return a LaserScan of the lidar's ranges (REP 117 infinities kept)."""
    msg = LaserScan()
    msg.header.stamp = stamp(time_ns)
    msg.header.frame_id = spec.frame_id
    msg.angle_min = spec.min_angle
    msg.angle_max = spec.max_angle
    msg.angle_increment = spec.angle_increment
    msg.scan_time = scan_time
    msg.range_min = spec.range_min
    msg.range_max = spec.range_max
    values = array.array('f')
    values.frombytes(np.ascontiguousarray(ranges, dtype=np.float32).tobytes())
    msg.ranges = values
    return msg


def image_message(rgb: np.ndarray, frame_id: str, time_ns: int) -> Image:
    """Return an rgb8 Image of an H x W x 3 uint8 array."""
    msg = Image()
    msg.header.stamp = stamp(time_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = 'rgb8'
    msg.step = 3 * msg.width
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    msg.data = data
    return msg


def camera_info_message(spec: CameraSpec, time_ns: int) -> CameraInfo:
    """Return the CameraInfo of an ideal pinhole camera (no distortion)."""
    fx, fy, cx, cy = spec.intrinsics()
    msg = CameraInfo()
    msg.header.stamp = stamp(time_ns)
    msg.header.frame_id = spec.frame_id
    msg.width, msg.height = spec.width, spec.height
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def odometry_message(odometry: SimOdometry, odom_frame: str, base_frame: str,
                     time_ns: int) -> Odometry:
    """Return an Odometry message: pose in ``odom_frame``, twist in ``base_frame``."""
    msg = Odometry()
    msg.header.stamp = stamp(time_ns)
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose.position.x = odometry.x
    msg.pose.pose.position.y = odometry.y
    msg.pose.pose.orientation = yaw_quaternion(odometry.yaw)
    msg.twist.twist.linear.x = odometry.linear
    msg.twist.twist.angular.z = odometry.angular
    return msg


def path_message(waypoints: Sequence[Sequence[float]], frame_id: str, time_ns: int) -> Path:
    """
    Return the route as a nav_msgs/Path, one pose per waypoint, as a global planner hands it.

    Each pose faces the next waypoint (the last one keeps the heading of the final leg).
    """
    msg = Path()
    msg.header.stamp = stamp(time_ns)
    msg.header.frame_id = frame_id
    points = [(float(x), float(y)) for x, y in waypoints]
    yaw = 0.0
    for index, (x, y) in enumerate(points):
        if index + 1 < len(points):
            yaw = math.atan2(points[index + 1][1] - y, points[index + 1][0] - x)
        pose = PoseStamped()
        pose.header = msg.header
        pose.pose.position.x, pose.pose.position.y = x, y
        pose.pose.orientation = yaw_quaternion(yaw)
        msg.poses.append(pose)
    return msg
