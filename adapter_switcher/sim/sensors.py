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
The robot's sensors in the MuJoCo scene: a planar lidar (``mj_multiRay``) and an RGB camera.

The lidar casts its beams against the static structure only (geom group 0), so it never sees
the spill, the floor or the robot itself. The camera renders offscreen with shadows,
reflections, skybox and multisampling off: a 160x120 frame then costs well under a millisecond
with OSMesa (tens of milliseconds with them on). Call :meth:`Camera.close` when done: the
renderer's finaliser can crash at interpreter exit under OSMesa.
"""

from adapter_switcher.sim.mujoco_scene import CAMERA
from adapter_switcher.sim.mujoco_scene import CAMERA_GEOMGROUP
from adapter_switcher.sim.mujoco_scene import LIDAR_GEOMGROUP
from adapter_switcher.sim.mujoco_scene import ROBOT_BODY
from adapter_switcher.sim.sdf_world import CameraSpec
from adapter_switcher.sim.sdf_world import LidarSpec

import mujoco
import numpy as np

# mj_multiRay gained a ``normal`` output argument in later MuJoCo 3.x releases.
_MULTIRAY_TAKES_NORMAL = 'normal' in (mujoco.mj_multiRay.__doc__ or '').split('\n')[0]


class Lidar:
    """
    A planar lidar mounted on the robot body.

    :meth:`scan` follows REP 117: ``+inf`` where no return within ``range_max``, ``-inf``
    for returns closer than ``range_min``.
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, spec: LidarSpec):
        self.spec = spec
        self._model = model
        self._data = data
        self._body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, ROBOT_BODY)
        angles = spec.angles()
        beams = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
        self._beams = beams @ spec.pose.matrix().T  # in the robot body frame
        self._origin = np.asarray(spec.pose.position)
        self._vec = np.zeros(3 * spec.samples)
        self._geomid = np.zeros(spec.samples, dtype=np.int32)
        self._dist = np.zeros(spec.samples)
        self._group = np.asarray(LIDAR_GEOMGROUP, dtype=np.uint8)

    def scan(self) -> np.ndarray:
        """Return the ranges (float32, one per beam) from the current body pose."""
        rotation = self._data.xmat[self._body].reshape(3, 3)
        origin = self._data.xpos[self._body] + rotation @ self._origin
        self._vec[:] = (self._beams @ rotation.T).ravel()
        args = [self._model, self._data, origin, self._vec, self._group, 1, self._body,
                self._geomid, self._dist]
        if _MULTIRAY_TAKES_NORMAL:
            args.append(None)
        mujoco.mj_multiRay(*args, self.spec.samples, self.spec.range_max)
        ranges = self._dist.astype(np.float32)
        ranges[(self._geomid < 0) | (self._dist > self.spec.range_max)] = np.inf
        ranges[ranges < self.spec.range_min] = -np.inf
        return ranges


class Camera:
    """An RGB camera rendering the scene from the robot's camera mount."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, spec: CameraSpec):
        self.spec = spec
        self._model = model
        self._data = data
        self._renderer = mujoco.Renderer(model, spec.height, spec.width)
        flags = self._renderer.scene.flags
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                     mujoco.mjtRndFlag.mjRND_SKYBOX):
            flags[flag] = 0
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = CAMERA_GEOMGROUP
        self._camera = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA)

    def render(self) -> np.ndarray:
        """Return a new ``height x width x 3`` uint8 RGB image (row 0 at the top)."""
        if self._renderer is None:
            raise RuntimeError('the camera is closed')
        mujoco.mj_camlight(self._model, self._data)
        self._renderer.update_scene(self._data, self._camera, self._option)
        return self._renderer.render()

    def close(self):
        """Free the GL context now (idempotent)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
