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
Rigid transforms and planar helpers for the simulator, with numpy only.

SDF poses are ``x y z roll pitch yaw`` with the rotation ``Rz(yaw) Ry(pitch) Rx(roll)``; MuJoCo
wants quaternions ``(w, x, y, z)``; the planar base moves in ``(x, y, yaw)``. Keeping these
conversions in one place keeps the SDF reader, the MJCF writer and the experts consistent.
"""

from dataclasses import dataclass
import math
from typing import Sequence, Tuple

import numpy as np

Vector3 = Tuple[float, float, float]
Quaternion = Tuple[float, float, float, float]


def quaternion_multiply(a: Sequence[float], b: Sequence[float]) -> Quaternion:
    """Return the Hamilton product ``a * b`` of quaternions given as ``(w, x, y, z)``."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def quaternion_to_matrix(q: Sequence[float]) -> np.ndarray:
    """Return the 3x3 rotation matrix of a unit quaternion ``(w, x, y, z)``."""
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


@dataclass(frozen=True)
class Pose:
    """A rigid transform: a position and a unit quaternion ``(w, x, y, z)``."""

    position: Vector3 = (0.0, 0.0, 0.0)
    quaternion: Quaternion = (1.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_xyzrpy(cls, x, y, z, roll, pitch, yaw) -> 'Pose':
        """Build a pose from SDF's six numbers (rotation ``Rz(yaw) Ry(pitch) Rx(roll)``)."""
        qx = (math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0)
        qy = (math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0)
        qz = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        q = quaternion_multiply(qz, quaternion_multiply(qy, qx))
        return cls((float(x), float(y), float(z)), _canonical(q))

    @classmethod
    def planar(cls, x: float, y: float, yaw: float, z: float = 0.0) -> 'Pose':
        """Build a pose on the floor plane: a position and a heading about +z."""
        return cls.from_xyzrpy(x, y, z, 0.0, 0.0, yaw)

    def matrix(self) -> np.ndarray:
        """Return the rotation as a 3x3 matrix."""
        return quaternion_to_matrix(self.quaternion)

    def compose(self, child: 'Pose') -> 'Pose':
        """Return ``self * child``: ``child`` is expressed in this pose's frame."""
        position = np.asarray(self.position) + self.matrix() @ np.asarray(child.position)
        q = quaternion_multiply(self.quaternion, child.quaternion)
        return Pose(tuple(float(v) for v in position), _canonical(q))

    def inverse(self) -> 'Pose':
        """Return the inverse transform."""
        w, x, y, z = self.quaternion
        conjugate = (w, -x, -y, -z)
        position = -(quaternion_to_matrix(conjugate) @ np.asarray(self.position))
        return Pose(tuple(float(v) for v in position), _canonical(conjugate))

    @property
    def yaw(self) -> float:
        """Heading about +z of the pose's x axis, for poses on the floor plane."""
        m = self.matrix()
        return math.atan2(m[1, 0], m[0, 0])


def _canonical(q: Sequence[float]) -> Quaternion:
    """Normalise a quaternion and pick the sign with ``w >= 0`` (both mean the same rotation)."""
    arr = np.asarray(q, dtype=float)
    arr = arr / np.linalg.norm(arr)
    if arr[0] < 0:
        arr = -arr
    return tuple(float(v) for v in arr)


def wrap_angle(angle: float) -> float:
    """Return the angle wrapped into ``[-pi, pi)``."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def integrate_unicycle(x: float, y: float, yaw: float, v: float, w: float, dt: float):
    """
    Return the pose after driving with constant ``(v, w)`` for ``dt`` seconds.

    Exact for constant commands (an arc, or a straight line when ``w`` is zero), so odometry
    does not drift with the step size.
    """
    if abs(w) < 1e-9:
        return x + v * dt * math.cos(yaw), y + v * dt * math.sin(yaw), yaw
    new_yaw = yaw + w * dt
    radius = v / w
    return (x + radius * (math.sin(new_yaw) - math.sin(yaw)),
            y - radius * (math.cos(new_yaw) - math.cos(yaw)),
            wrap_angle(new_yaw))


def rectangle_corners(x: float, y: float, yaw: float, bounds: Sequence[float]) -> np.ndarray:
    """
    Return the 4 corners (4 x 2) of a rectangle placed at ``(x, y, yaw)``.

    ``bounds`` is ``(xmin, xmax, ymin, ymax)`` in the rectangle's own frame, so footprints that
    are not centred on their frame's origin work too.
    """
    xmin, xmax, ymin, ymax = bounds
    local = np.array([[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]])
    c, s = math.cos(yaw), math.sin(yaw)
    return local @ np.array([[c, s], [-s, c]]) + np.array([x, y])


def polygons_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether two convex polygons (N x 2, vertices in order) overlap (separating axes)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for nx, ny in np.stack([-edges[:, 1], edges[:, 0]], axis=1):
            pa = a @ (nx, ny)
            pb = b @ (nx, ny)
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def rectangle_overlaps_disc(x: float, y: float, yaw: float, bounds: Sequence[float],
                            centre: Sequence[float], radius: float) -> bool:
    """Return whether a rectangle placed as in :func:`rectangle_corners` and a disc overlap."""
    dx, dy = centre[0] - x, centre[1] - y
    c, s = math.cos(yaw), math.sin(yaw)
    local_x, local_y = c * dx + s * dy, -s * dx + c * dy
    xmin, xmax, ymin, ymax = bounds
    nearest_x = min(max(local_x, xmin), xmax)
    nearest_y = min(max(local_y, ymin), ymax)
    return (local_x - nearest_x) ** 2 + (local_y - nearest_y) ** 2 <= radius * radius
