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
The visuomotor driving policy: camera pixels and lidar ranges in, a speed and an offset out.

The network perceives for itself: its observation is the camera image (downscaled), the lidar
ranges (min-pooled to fewer beams), the odometry velocities and the route carrot (where the
route continues, in the robot frame: what a global planner hands a local one). No spill,
clearance or zone feature goes in; the context manager still computes those to pick the adapter.

Everything is packed into one flat float32 tensor (1, OBS_DIM), so the engine, the inference
node and the training code pass a single tensor around; :class:`VisuomotorNet` unpacks it. A
small CNN reads the image, and its features, the lidar, velocities and carrot go through an MLP;
LoRA adapters target both the conv and the linear layers (:data:`TARGET_MODULES`).

Its two outputs are a speed limit and how far beside the route to drive (left positive), which
a fixed tracking law turns into the velocity (:func:`offset_command`, the law of
:mod:`adapter_switcher.route_tracking`), as a Nav2 controller turns a local plan into one: the
hazard adapter learns which side of a spill to pass and how far, one number per spill read
from the image, not the turn rates of a detour on top of the route's turns, which the policies
that output velocities failed to imitate (docs/behaviour.md).
"""

import math
from typing import Optional, Sequence, Tuple

from adapter_switcher.offset_hold import OffsetHold
from adapter_switcher.route_progress import RouteProgress
from adapter_switcher.route_tracking import track_route
from adapter_switcher.route_tracking import TrackingParams

import cv2
import numpy as np
import torch
from torch import nn

IMAGE_ROWS, IMAGE_COLS = 30, 40   # the 160 x 120 camera image downscaled 4x
IMAGE_DIM = 3 * IMAGE_ROWS * IMAGE_COLS
LIDAR_BEAMS = 90                  # 360 beams min-pooled in fours
STATE_DIM = 4                     # linear and angular speed, carrot x and y
OBS_DIM = IMAGE_DIM + LIDAR_BEAMS + STATE_DIM
CARROT_SCALE = 2.0                # metres: the carrot is divided by this
TARGET_MODULES = ('conv1', 'conv2', 'conv3', 'fc1', 'fc2', 'head')
# The network's two outputs: a speed limit (m/s) and an offset from the route (m, left
# positive), which OFFSET_TRACKING, the closed loop's gentle navigation gains at a short
# look-ahead (a spill just past a turn leaves 0.6 m to shift sideways in), turns into a
# velocity (:func:`offset_command`). The network's range is +-MAX_OFFSET; the law drives at
# most OFFSET_LIMIT, the teacher's 0.8 m and a margin: at 1 m the robot's side was 0.02 m from
# an aisle's shelves, and a learner that overshot there drove into them. (The range stays
# wider than the limit: the teacher's 0.8 m is then no saturated output for the fit.)
MAX_SPEED = 1.0
MAX_OFFSET = 1.0
OFFSET_LIMIT = 0.85
OFFSET_TRACKING = TrackingParams(lookahead=0.6, heading_gain=1.5, turn_in_place=1.2)


class VisuomotorNet(nn.Module):
    """obs (N, OBS_DIM) -> raw action (N, 2); :func:`decode_offset_action` decodes it."""

    def __init__(self, hidden: int = 512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 5, stride=2, padding=2)    # 30x40 -> 15x20
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)   # -> 8x10
        self.conv3 = nn.Conv2d(32, 32, 3, stride=2, padding=1)   # -> 4x5
        conv_out = 32 * 4 * 5
        self.fc1 = nn.Linear(conv_out + LIDAR_BEAMS + STATE_DIM, hidden)
        self.fc2 = nn.Linear(hidden, hidden // 2)
        self.head = nn.Linear(hidden // 2, 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        image = obs[:, :IMAGE_DIM].reshape(-1, 3, IMAGE_ROWS, IMAGE_COLS)
        rest = obs[:, IMAGE_DIM:]
        x = torch.relu(self.conv1(image))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        x = torch.cat([x.flatten(1), rest], dim=1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.head(x)


def build_visuomotor(seed: int = 0) -> VisuomotorNet:
    """Return a VisuomotorNet with a fixed initialisation (``BaseModelSpec.factory``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VisuomotorNet()


def downscale_image(image: Optional[np.ndarray]) -> np.ndarray:
    """Return an RGB uint8 image as (3, IMAGE_ROWS, IMAGE_COLS) float32 in 0..1 (None: black)."""
    if image is None:
        return np.zeros((3, IMAGE_ROWS, IMAGE_COLS), dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'expected an H x W x 3 uint8 RGB image, got {image.shape} '
                         f'{image.dtype}')
    small = cv2.resize(image, (IMAGE_COLS, IMAGE_ROWS), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) / 255.0


def pooled_ranges(ranges: Optional[np.ndarray], range_max: float) -> np.ndarray:
    """
    Min-pool a scan to LIDAR_BEAMS ranges, normalised to 0 (contact) .. 1 (range_max or free).

    NaN readings are ignored; +inf, readings past range_max and beams without a valid reading
    count as free; negative values as contact.
    """
    pooled = np.ones(LIDAR_BEAMS, dtype=np.float32)
    if ranges is None or len(ranges) == 0 or not (math.isfinite(range_max) and range_max > 0):
        return pooled
    scaled = np.clip(np.asarray(ranges, dtype=np.float64) / range_max, 0.0, 1.0)
    # The sectors of np.array_split(scaled, LIDAR_BEAMS), reduced in one call (NaN never wins).
    sizes = np.full(LIDAR_BEAMS, len(scaled) // LIDAR_BEAMS)
    sizes[:len(scaled) % LIDAR_BEAMS] += 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    filled = sizes > 0
    minima = np.minimum.reduceat(np.where(np.isnan(scaled), np.inf, scaled), starts[filled])
    pooled[filled] = np.where(np.isfinite(minima), minima, 1.0)
    return pooled


def carrot_in_robot_frame(pose: Sequence[float], carrot: Sequence[float]) -> Tuple[float, float]:
    """Return a world point as (forward, left) metres from the robot at ``pose`` (x, y, yaw)."""
    dx, dy = carrot[0] - pose[0], carrot[1] - pose[1]
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return c * dx + s * dy, -s * dx + c * dy


def encode_visuomotor(image: Optional[np.ndarray], ranges: Optional[np.ndarray],
                      range_max: float, linear: float, angular: float,
                      carrot: Tuple[float, float]) -> torch.Tensor:
    """
    Return the (1, OBS_DIM) observation: image, pooled lidar, velocities and route carrot.

    ``carrot`` is in the robot frame (:func:`carrot_in_robot_frame`). Non-finite velocities or
    carrot read as 0 and everything is clipped, so a bad reading never puts NaN into the model.
    """
    state = np.array([linear / 1.0, angular / 1.5, carrot[0] / CARROT_SCALE,
                      carrot[1] / CARROT_SCALE], dtype=np.float32)
    state = np.clip(np.nan_to_num(state, nan=0.0, posinf=0.0, neginf=0.0), -5.0, 5.0)
    obs = np.concatenate([downscale_image(image).ravel(), pooled_ranges(ranges, range_max),
                          state])
    return torch.from_numpy(obs).unsqueeze(0)


def augment_images(obs: torch.Tensor, generator: torch.Generator, shift: int = 2,
                   brightness: float = 0.2, colour: float = 0.1) -> torch.Tensor:
    """
    Return a copy of a batch of observations with each image jittered; the rest is unchanged.

    Why: the adapters are fitted on a few hundred spill encounters, and a CNN learns those
    exact images (training R^2 0.95-0.99 against 0.18-0.49 on other episodes,
    docs/behaviour.md). Each image gets its own brightness gain (1 +- ``brightness``),
    per-channel colour gain (1 +- ``colour``) and a shift of up to ``shift`` pixels each way
    (edges repeated), so the network must read where the blob and the shelves are, not the
    pixels of one episode. The shifts stay small (2 px is 4 degrees of the camera's 80, or a few
    cm of floor), so the label still fits the image. Draws come from ``generator`` only:
    deterministic for its seed.
    """
    count = obs.shape[0]
    images = obs[:, :IMAGE_DIM].reshape(count, 3, IMAGE_ROWS, IMAGE_COLS).to(torch.float32)
    gain = 1.0 + brightness * (2.0 * torch.rand(count, 1, 1, 1, generator=generator) - 1.0)
    gain = gain * (1.0 + colour * (2.0 * torch.rand(count, 3, 1, 1, generator=generator) - 1.0))
    offsets = torch.randint(-shift, shift + 1, (2, count), generator=generator)
    padded = nn.functional.pad(images, (shift, shift, shift, shift), mode='replicate')
    rows = torch.arange(IMAGE_ROWS)[None, :] + shift + offsets[0][:, None]   # (N, rows)
    cols = torch.arange(IMAGE_COLS)[None, :] + shift + offsets[1][:, None]   # (N, cols)
    samples, channels = torch.arange(count), torch.arange(3)
    shifted = padded[samples[:, None, None, None], channels[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
    jittered = torch.clamp(shifted * gain, 0.0, 1.0).reshape(count, IMAGE_DIM)
    return torch.cat([jittered, obs[:, IMAGE_DIM:].to(torch.float32)], dim=1)


def randomise_odometry(obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """
    Return a copy of a batch of observations whose odometry velocities are random draws.

    Why: the experts' commands change smoothly, so the robot's yaw rate at a tick is nearly the
    expert's angular command of the tick before, and a cloned policy learns to copy it (the
    yaw-rate input correlates 0.78 with the hazard expert's angular command): where the learner
    drives straight towards a spill its yaw rate is 0, and so is the turn it commands
    (docs/behaviour.md). Fitted on random speeds (linear 0..1 m/s, yaw rate over the whole
    +-1.5 rad/s), the network learns commands from what it sees, not from what it did; at run
    time the true velocities go in as before. Draws come from ``generator`` only.
    """
    count = obs.shape[0]
    randomised = _float_copy(obs)
    odometry = IMAGE_DIM + LIDAR_BEAMS
    randomised[:, odometry] = torch.rand(count, generator=generator)
    randomised[:, odometry + 1] = 2.0 * torch.rand(count, generator=generator) - 1.0
    return randomised


def randomise_route(obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """
    Return a copy of a batch of observations whose route carrots are random draws.

    Why: the carrot shows where the robot is across the route and where it heads, and both
    follow from the policy's own last commands: once a detour has begun, its side is in the
    carrot, and a policy fitted on the teachers' data read the side from there instead of
    from the spill in the image (the hazard adapter's offset followed the carrot to whichever
    side the robot had first drifted, docs/behaviour.md). The tracking law follows the route
    without the network (:func:`offset_command`), so the network needs the carrot for nothing
    the image and lidar do not show; fitted on random carrots (forward 0..2 m, across +-2 m)
    it learns the offset from what it sees. At run time the true carrot goes in as before.
    """
    count = obs.shape[0]
    randomised = _float_copy(obs)
    carrot = IMAGE_DIM + LIDAR_BEAMS + 2
    randomised[:, carrot] = torch.rand(count, generator=generator) * 2.0 / CARROT_SCALE
    randomised[:, carrot + 1] = (4.0 * torch.rand(count, generator=generator) - 2.0) / \
        CARROT_SCALE
    return randomised


def _float_copy(obs: torch.Tensor) -> torch.Tensor:
    """Return a float32 copy of a batch: recordings are half precision, and stay unchanged."""
    copied = obs.to(torch.float32)
    return obs.clone() if copied is obs else copied


# Training-time jitters (``train-demo --augment NAME ...``), applied in this order.
AUGMENTATIONS = {'images': augment_images, 'odometry': randomise_odometry,
                 'route': randomise_route}


def decode_offset_action(output: torch.Tensor) -> Tuple[float, float]:
    """
    Map a raw (1, 2) model output to ``(speed limit, offset from the route)``.

    The speed within 0..MAX_SPEED m/s, the offset within +-OFFSET_LIMIT m (left positive).
    """
    flat = output.reshape(-1)[:2].tolist()
    offset = math.tanh(flat[1]) * MAX_OFFSET
    return (max(math.tanh(flat[0]), 0.0) * MAX_SPEED,
            max(-OFFSET_LIMIT, min(OFFSET_LIMIT, offset)))


def decode_offset_batch(output: torch.Tensor) -> torch.Tensor:
    """
    Differentiable :func:`decode_offset_action` for a batch, (N, 2) -> (N, 2), to train.

    Neither the speed at 0 nor the offset at OFFSET_LIMIT is clipped here: every target keeps
    its gradient.
    """
    limits = torch.tensor([MAX_SPEED, MAX_OFFSET], dtype=output.dtype)
    return torch.tanh(output) * limits


def offset_command(route: RouteProgress, pose: Sequence[float], speed: float,
                   offset: float) -> Tuple[float, float]:
    """
    Return the velocity ``(v, w)`` that drives ``offset`` beside the route at most ``speed``.

    :func:`~adapter_switcher.route_tracking.track_route` with :data:`OFFSET_TRACKING`, along
    ``route`` advanced to ``pose`` (the closed loop's route progress, or the node's plan).
    The speed limit is at least the law's ``min_speed``: the teachers' speeds include the
    law's own stops to turn on the spot, and a network that answered 0 where the law had no
    turn to make left the robot standing for good (beside a corner it had driven the outside
    of); the law still stops to turn, and at the goal.
    """
    return track_route(route, tuple(pose), OFFSET_TRACKING, offset=lambda _: offset,
                       speed_limit=max(speed, OFFSET_TRACKING.min_speed))


def held_offset_command(route: RouteProgress, pose: Sequence[float], speed: float,
                        offset: float, hold: Optional[OffsetHold]) -> Tuple[float, float]:
    """
    Return the velocity for a decoded ``(speed, offset)``: the offset through ``hold`` first.

    The detour memory (:class:`~adapter_switcher.offset_hold.OffsetHold`; None: none) is the
    closed loop's, one per episode, or the node's, one per plan; then :func:`offset_command`.
    The learned policy, the node and the teachers' targets (``expert_offset_driver``) all
    drive through this one function.
    """
    if hold is not None:
        offset = hold(offset, pose)
    return offset_command(route, pose, speed, offset)


def parameter_count(model: nn.Module) -> int:
    """Return the number of parameters of a model."""
    return sum(p.numel() for p in model.parameters())
