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
What the inference node feeds the model: the feature vector, or the visuomotor policy's input.

``observation: features`` (the default) encodes the context features and the lidar profile with
the node's ``observation_encoder``. ``observation: visuomotor`` builds exactly what the closed
loop trains and evaluates the visuomotor policy on: a :class:`~adapter_switcher.demo.observations.
Sensing` of the latest camera image, scan and odometry plus the route carrot (from the plan,
:mod:`route_plan`), encoded by the same ``visuomotor_observation``. Without a plan (or without
odometry to place the robot on it, or with a plan in another frame than the odometry's: no
transform is looked up) there is no observation: the node stops the robot and says why, rather
than drive without knowing where the route goes.
"""

from typing import Optional, Tuple

from adapter_switcher.demo.observations import Sensing
from adapter_switcher.demo.observations import visuomotor_observation
from adapter_switcher.nodes.conversions import odom_to_pose
from adapter_switcher.nodes.route_plan import PlanFollower
from adapter_switcher.nodes.runner import StartupError

import numpy as np
import torch

OBSERVATIONS = ('features', 'visuomotor')
# What the decoded model output is: the velocity itself, or a speed limit and an offset from
# the plan that the tracking law drives (adapter_switcher.demo.visuomotor.offset_command).
COMMANDS = ('velocity', 'route_offset')
PLAN_TOPIC = 'plan'
GOAL_REACHED = 'the plan is complete (goal reached)'
DEFAULT_RANGE_MAX = 10.0   # what the feature encoder assumes before the first scan


def rgb_image(image: np.ndarray, encoding: str) -> np.ndarray:
    """Return an image of an accepted encoding (rgb8, bgr8, mono8) as H x W x 3 RGB uint8."""
    if encoding == 'rgb8':
        return image
    if encoding == 'bgr8':
        return np.ascontiguousarray(image[:, :, ::-1])
    if encoding == 'mono8':
        return np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
    raise ValueError(f'image encoding {encoding!r} has no RGB conversion')


class VisuomotorInput:
    """Builds the visuomotor observation from a tick's sensor reading and the followed plan."""

    def __init__(self, plan: PlanFollower):
        self.plan = plan
        self.pose: Optional[Tuple[float, float, float]] = None  # of the last observation

    def observe(self, reading) -> Tuple[Optional[torch.Tensor], str]:
        """
        Return ``(observation, '')``, or ``(None, why)`` when the robot must not drive.

        ``reading`` is a :class:`~adapter_switcher.nodes.sensor_inputs.SensorReading`. A
        missing image or scan encodes as the closed loop's encoder does with none (black, free).
        """
        if not self.plan.has_plan:
            return None, f'no plan received on {PLAN_TOPIC}'
        if reading.odom is None:
            return None, 'no odometry to place the robot on the plan'
        odom_frame = reading.odom.header.frame_id
        if self.plan.frame_id and odom_frame and self.plan.frame_id != odom_frame:
            return None, (f"plan frame '{self.plan.frame_id}' is not the odometry's frame "
                          f"'{odom_frame}'")
        if self.plan.done:
            return None, GOAL_REACHED
        pose = self.pose = odom_to_pose(reading.odom)
        twist = reading.odom.twist.twist
        carrot = self.plan.carrot(pose)
        image = None if reading.image is None else rgb_image(*reading.image)
        scan = reading.scan
        sensing = Sensing(reading.snapshot, image, None if scan is None else scan.ranges,
                          DEFAULT_RANGE_MAX if scan is None else scan.range_max,
                          float(twist.linear.x), float(twist.angular.z), carrot)
        return visuomotor_observation(sensing), ''


def blank_visuomotor() -> torch.Tensor:
    """Return a visuomotor observation with no data (the engine's probe input)."""
    return visuomotor_observation(Sensing(None, None, None, DEFAULT_RANGE_MAX, 0.0, 0.0,
                                          (0.0, 0.0)))


def check_model_input(model: torch.nn.Module, probe: torch.Tensor, observation: str) -> None:
    """Run the model once on the observation's input; StartupError in one line if it cannot."""
    try:
        with torch.no_grad():
            model(probe)
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StartupError(
            f"observation '{observation}': the base model does not take its input (shape "
            f'{tuple(probe.shape)}): {first}; set model_factory/model_weights to a model for '
            'this observation') from None
