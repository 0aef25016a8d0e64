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
The demo video: the robot's camera beside a top-down map, with a HUD.

The map shows the warehouse's static structure from the SDF world, the episode's spill and the
goal zone, the lidar returns, and the trajectory so far coloured by the adapter that was active.
The HUD shows sim time, the active adapter, the predicted next one with its prefetch state
(loading / resident), the last swap's latency and the speed. Frames are drawn with OpenCV (a
matplotlib figure per frame would be far too slow) and encoded with PyAV through imageio:
H.264 for ``demo.mp4``, and a short, small cut for ``demo.gif``.
"""

import itertools
import math
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from adapter_switcher.demo.recording import Frame
from adapter_switcher.sim.scenario import SpillPlacement
from adapter_switcher.sim.sdf_world import World

import cv2
import imageio.v3 as iio
import numpy as np

CAMERA_SCALE = 3
PANEL_HEIGHT = 120 * CAMERA_SCALE
HUD_HEIGHT = 56
MARGIN_M = 0.4
BACKGROUND = (245, 245, 240)
STRUCTURE = (120, 120, 125)
SPILL = (0, 204, 230)
GOAL = (60, 170, 60)
LIDAR = (220, 40, 40)
TEXT = (240, 240, 240)
HUD_BACKGROUND = (30, 30, 35)
# Adapter colours (RGB), in order of first appearance; navigation blue, hazard orange.
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
GIF_SCALE = 0.75
GIF_EVERY = 3                     # every third camera frame: 5 fps from a 15 Hz camera
GIF_MAX_FRAMES = 120


def adapter_colour(name: str, order: Dict[str, int]) -> Tuple[int, int, int]:
    """Return the RGB colour of an adapter (grey for the base model alone)."""
    if not name:
        return (90, 90, 90)
    return PALETTE[order.setdefault(name, len(order)) % len(PALETTE)]


def _yaw(quaternion) -> float:
    w, x, y, z = quaternion
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class MapView:
    """The warehouse from above, at a fixed scale, and the world-to-pixel transform."""

    def __init__(self, world: World, height_px: int = PANEL_HEIGHT):
        shapes = [s for s in world.collisions if s.kind in ('box', 'cylinder')]
        corners = np.concatenate([self._outline(s) for s in shapes]) if shapes else \
            np.array([[-10.0, -6.0], [10.0, 6.0]])
        low, high = corners.min(axis=0) - MARGIN_M, corners.max(axis=0) + MARGIN_M
        self.origin, self.scale = low, height_px / (high[1] - low[1])
        width = int(math.ceil((high[0] - low[0]) * self.scale)) // 2 * 2
        self.background = np.full((height_px, width, 3), BACKGROUND, np.uint8)
        for shape in shapes:
            self._fill(self.background, shape, STRUCTURE)
        self.lidar_offset = tuple(world.robot.lidar.pose.position[:2])

    @staticmethod
    def _outline(shape) -> np.ndarray:
        x, y = shape.pose.position[:2]
        yaw = _yaw(shape.pose.quaternion)
        if shape.kind == 'cylinder':
            r = shape.size[0]
            return np.array([[x - r, y - r], [x + r, y + r]])
        hx, hy = shape.size[0] / 2, shape.size[1] / 2
        c, s = math.cos(yaw), math.sin(yaw)
        return np.array([[x + c * dx - s * dy, y + s * dx + c * dy]
                         for dx, dy in ((hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy))])

    def px(self, x: float, y: float) -> Tuple[int, int]:
        """Return the pixel of a world point (x to the right, y up)."""
        return (int(round((x - self.origin[0]) * self.scale)),
                self.background.shape[0] - 1 - int(round((y - self.origin[1]) * self.scale)))

    def _fill(self, image: np.ndarray, shape, colour) -> None:
        if shape.kind == 'cylinder':
            cv2.circle(image, self.px(*shape.pose.position[:2]),
                       max(1, int(shape.size[0] * self.scale)), colour, -1, cv2.LINE_AA)
            return
        points = np.array([self.px(x, y) for x, y in self._outline(shape)], np.int32)
        cv2.fillPoly(image, [points], colour, cv2.LINE_AA)

    def episode_base(self, spill: Optional[SpillPlacement], goal: Sequence[float],
                     tolerance: float) -> np.ndarray:
        """Return the map with one episode's spill and goal zone."""
        image = self.background.copy()
        cv2.circle(image, self.px(*goal), max(2, int(tolerance * self.scale)), GOAL, 2,
                   cv2.LINE_AA)
        if spill is not None:
            radius = spill.size[0] if spill.shape == 'cylinder' else max(spill.size[:2]) / 2
            cv2.circle(image, self.px(*spill.position), max(2, int(radius * self.scale)), SPILL,
                       -1, cv2.LINE_AA)
        return image

    def lidar_points(self, frame: Frame, geometry: Tuple[float, float]) -> List[Tuple[int, int]]:
        """Return the pixels of a frame's lidar returns."""
        if frame.scan is None:
            return []
        x, y, yaw = frame.pose
        ox, oy = self.lidar_offset
        sx, sy = x + math.cos(yaw) * ox - math.sin(yaw) * oy, y + math.sin(yaw) * ox + \
            math.cos(yaw) * oy
        angle_min, increment = geometry
        angles = yaw + angle_min + increment * np.arange(frame.scan.size)
        finite = np.isfinite(frame.scan)
        return [self.px(sx + r * math.cos(a), sy + r * math.sin(a))
                for r, a in zip(frame.scan[finite], angles[finite])]


def episode_frames(frames: Sequence[Frame], view: MapView, base: np.ndarray,
                   start_ns: int, label: str, order: Dict[str, int],
                   geometry: Optional[Tuple[float, float]]) -> Iterator[np.ndarray]:
    """Yield the composed video frames of one episode."""
    trail = base.copy()
    previous = None
    for frame in frames:
        point = view.px(*frame.pose[:2])
        if previous is not None:
            cv2.line(trail, previous, point, adapter_colour(frame.active, order), 3, cv2.LINE_AA)
        previous = point
        panel = trail.copy()
        for pixel in view.lidar_points(frame, geometry) if geometry else []:
            cv2.circle(panel, pixel, 1, LIDAR, -1)
        heading = (point[0] + int(12 * math.cos(frame.pose[2])),
                   point[1] - int(12 * math.sin(frame.pose[2])))
        cv2.circle(panel, point, 7, (20, 20, 20), -1, cv2.LINE_AA)
        cv2.line(panel, point, heading, (250, 250, 250), 2, cv2.LINE_AA)
        camera = cv2.resize(frame.image, (frame.image.shape[1] * CAMERA_SCALE, PANEL_HEIGHT),
                            interpolation=cv2.INTER_NEAREST)
        top = np.concatenate([camera, panel], axis=1)
        yield np.concatenate([top, _hud(frame, (frame.stamp_ns - start_ns) * 1e-9, label,
                                        order, top.shape[1])], axis=0)


def _hud(frame: Frame, elapsed: float, label: str, order: Dict[str, int],
         width: int) -> np.ndarray:
    hud = np.full((HUD_HEIGHT, width, 3), HUD_BACKGROUND, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    swap = '-' if frame.last_swap_ms is None else f'{frame.last_swap_ms * 1e3:.0f} us'
    predicted = f'{frame.predicted} ({frame.prefetch})' if frame.predicted else '-'
    cv2.putText(hud, f'{label}   sim time {elapsed:5.2f} s   speed {frame.speed:4.2f} m/s',
                (10, 22), font, 0.55, TEXT, 1, cv2.LINE_AA)
    cv2.putText(hud, 'active', (10, 46), font, 0.55, TEXT, 1, cv2.LINE_AA)
    cv2.rectangle(hud, (72, 32), (90, 50), adapter_colour(frame.active, order), -1)
    cv2.putText(hud, f'{frame.active or "<base>"}   predicted next {predicted}   '
                f'last swap {swap}', (98, 46), font, 0.55, TEXT, 1, cv2.LINE_AA)
    return hud


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Encode frames as H.264 (yuv420p, so every player opens it); return the frame count."""
    count = 0
    with iio.imopen(path, 'w', plugin='pyav') as video:
        video.init_video_stream('libx264', fps=fps)
        for frame in frames:
            video.write_frame(frame)
            count += 1
    return count


def write_gif(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Write every GIF_EVERY-th frame at GIF_SCALE, looping; return the frame count."""
    picked = [cv2.resize(f, None, fx=GIF_SCALE, fy=GIF_SCALE, interpolation=cv2.INTER_AREA)
              for f in itertools.islice(frames, 0, GIF_EVERY * GIF_MAX_FRAMES, GIF_EVERY)]
    if picked:
        iio.imwrite(path, picked, extension='.gif', duration=1000.0 * GIF_EVERY / fps, loop=0)
    return len(picked)
