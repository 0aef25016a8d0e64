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
The topics and frames the simulator offers.

They are the same whether Gazebo (through ros_gz_bridge) or the embedded simulator provides
them; this module is ROS-free so that launch code and tests can use it.
"""

CLOCK = '/clock'
SCAN = '/scan'
IMAGE = '/camera/image_raw'
CAMERA_INFO = '/camera/camera_info'
ODOM = '/odom'
TF = '/tf'
CMD_VEL = '/cmd_vel'
PLAN = '/plan'      # the episode's route as a nav_msgs/Path (latched), as a planner gives it

ODOM_FRAME = 'odom'

# ROS topic -> (ROS type, Gazebo type, direction), as config/gz_bridge.yaml maps them.
BRIDGED = {
    CLOCK: ('rosgraph_msgs/msg/Clock', 'gz.msgs.Clock', 'GZ_TO_ROS'),
    SCAN: ('sensor_msgs/msg/LaserScan', 'gz.msgs.LaserScan', 'GZ_TO_ROS'),
    IMAGE: ('sensor_msgs/msg/Image', 'gz.msgs.Image', 'GZ_TO_ROS'),
    CAMERA_INFO: ('sensor_msgs/msg/CameraInfo', 'gz.msgs.CameraInfo', 'GZ_TO_ROS'),
    ODOM: ('nav_msgs/msg/Odometry', 'gz.msgs.Odometry', 'GZ_TO_ROS'),
    TF: ('tf2_msgs/msg/TFMessage', 'gz.msgs.Pose_V', 'GZ_TO_ROS'),
    CMD_VEL: ('geometry_msgs/msg/Twist', 'gz.msgs.Twist', 'ROS_TO_GZ'),
}
