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
Camera-side perception of the spill: HSV segmentation and projection onto the floor.

The spill is found by colour alone (config/scenario.yaml gives the HSV range), and its pixels
are mapped to floor points with the camera's intrinsics, its mount on the robot (from the SDF)
and the robot's odometry, so the hazard expert works from what the camera sees, never from the
simulator's ground truth.
"""

from typing import Sequence, Tuple

from adapter_switcher.sim.geometry import Pose
from adapter_switcher.sim.sdf_world import CameraSpec

import cv2
import numpy as np


def spill_mask(rgb: np.ndarray, hsv_lower: Sequence[int], hsv_upper: Sequence[int]) -> np.ndarray:
    """Return a boolean mask of the pixels of an RGB image inside the HSV range (OpenCV units)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected an H x W x 3 uint8 RGB image, got {rgb.shape} {rgb.dtype}')
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    return cv2.inRange(hsv, np.asarray(hsv_lower, np.uint8), np.asarray(hsv_upper, np.uint8)) > 0


def floor_points(pixels: np.ndarray, camera: CameraSpec, robot: Tuple[float, float, float],
                 max_range: float = 8.0) -> np.ndarray:
    """
    Project pixels ``(u, v)`` (N x 2, ROS pixel coordinates) onto the floor ``z = 0``.

    ``robot`` is the odometry pose ``(x, y, yaw)`` when the image was taken. Returns the world
    ``(x, y)`` of the pixels whose rays hit the floor within ``max_range`` of the camera.
    """
    fx, fy, cx, cy = camera.intrinsics()
    pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
    # Camera frame as in Gazebo: x forward, y left, z up.
    rays = np.stack([np.ones(len(pixels)), -(pixels[:, 0] - cx) / fx,
                     -(pixels[:, 1] - cy) / fy], axis=1)
    mount = Pose.planar(*robot[:2], robot[2]).compose(camera.pose)
    rays = rays @ mount.matrix().T
    origin = np.asarray(mount.position)
    down = rays[:, 2] < -1e-6
    scale = np.where(down, -origin[2] / np.where(down, rays[:, 2], -1.0), np.inf)
    hits = origin[:2] + rays[:, :2] * scale[:, None]
    keep = down & (np.linalg.norm(rays * scale[:, None], axis=1) <= max_range)
    return hits[keep]


def pixel_grid(mask: np.ndarray, stride: int = 1) -> np.ndarray:
    """Return ``(u, v)`` of the set pixels of a mask, every ``stride``-th row and column."""
    rows, cols = np.nonzero(mask[::stride, ::stride])
    return np.stack([cols * stride, rows * stride], axis=1)
