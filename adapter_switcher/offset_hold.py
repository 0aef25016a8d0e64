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
A detour's offset, held while the spill that caused it passes out of the camera's view.

The visuomotor policy has no memory: it answers each image alone. The camera sees the floor
from 0.4 m ahead of the robot, so while the robot passes beside a spill the image no longer
shows it, and the policy's offset decayed towards the route there while the teacher's detour
still held its full shift (the robot's rear swung onto the spill, docs/behaviour.md). The hold
is the memory the tracking law keeps instead: plain Python, no ROS, shared by the closed loop
and the inference node, so both drive the same.
"""

from dataclasses import dataclass
import math
from typing import Optional, Sequence, Tuple


@dataclass(frozen=True)
class HoldParams:
    """How long an offset is held, in metres driven (a robot that stands keeps it)."""

    hold: float = 3.0      # metres an offset is held at its full size after last asked for
    fade: float = 2.0      # metres over which it then fades out
    reverse: float = 0.3   # an offset to the other side at least this large replaces it at once

    def __post_init__(self):
        if not (self.hold >= 0.0 and self.fade > 0.0 and self.reverse >= 0.0):
            raise ValueError(f'offset hold needs hold >= 0, fade > 0 and reverse >= 0 metres, '
                             f'got {self.hold}, {self.fade}, {self.reverse}')


class OffsetHold:
    """
    The offset to drive: the policy's, or a larger one it asked for within the last metres.

    :meth:`__call__` takes each new offset with the robot's pose. An offset at least as large
    as the held one (fading with the distance driven: ``hold`` metres at full size, then over
    ``fade`` metres to zero), or one at least ``reverse`` to the other side, replaces it;
    otherwise the held one is driven. The teacher's detour has the same shape (its full shift
    until past the spill, then a ramp back), so the hold drives what the teacher would where
    the policy no longer sees why.
    """

    def __init__(self, params: HoldParams = HoldParams()):
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget the held offset (a new route)."""
        self._held = 0.0
        self._driven = 0.0
        self._held_at = 0.0
        self._last: Optional[Tuple[float, float]] = None

    def __call__(self, offset: float, pose: Sequence[float]) -> float:
        """Return the offset to drive now, given the policy's ``offset`` at ``pose``."""
        position = (float(pose[0]), float(pose[1]))
        if self._last is not None:
            self._driven += math.hypot(position[0] - self._last[0], position[1] - self._last[1])
        self._last = position
        held = self.held()
        reverses = offset * held < 0.0 and abs(offset) >= self.params.reverse
        if abs(offset) >= abs(held) or reverses:
            self._held, self._held_at = offset, self._driven
            return offset
        return held

    def held(self) -> float:
        """Return the held offset as it has faded by now."""
        p = self.params
        past = self._driven - self._held_at - p.hold
        return self._held * min(max(1.0 - past / p.fade, 0.0), 1.0)
