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
What the demo's video and plots are made of, recorded from the topics on sim time.

:class:`DemoRecorder` listens beside the demo monitor: every context evaluation (desired,
predicted, confidence), every /active_adapter change, the inference node's /diagnostics (which
adapters are resident, the last swap's latency) and, for the video, every camera image with the
state of the robot and the adapters at that instant. Everything is kept with its sim-time stamp
(ns); the outputs cut it into episodes afterwards.
"""

from dataclasses import dataclass
from dataclasses import field
import math
import threading
from typing import Dict, List, Optional, Tuple

from adapter_switcher.nodes.context_tick import context_tick
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import LATCHED_QOS

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String


# Reliable and deep: the video has exactly one frame per camera image of the run.
EVERY_MESSAGE = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1)


def stamp_ns(stamp) -> int:
    """Return a builtin_interfaces/Time as integer nanoseconds."""
    return stamp.sec * 10**9 + stamp.nanosec


@dataclass(frozen=True)
class Frame:
    """One camera image and everything the video's map and HUD show at its instant."""

    stamp_ns: int
    image: np.ndarray
    pose: Tuple[float, float, float]
    speed: float
    scan: Optional[np.ndarray]
    active: str
    predicted: str
    prefetch: str              # 'resident', 'loading' or '' (nothing predicted)
    last_swap_ms: Optional[float]


@dataclass
class Recording:
    """Everything recorded over a run, stamped in sim-time nanoseconds."""

    decisions: List[Tuple[int, str, str, float]] = field(default_factory=list)
    # (stamp, desired, predicted, confidence) per context evaluation
    active: List[Tuple[int, str]] = field(default_factory=list)     # /active_adapter messages
    resident: List[Tuple[int, str]] = field(default_factory=list)   # adapter became resident
    swaps: List[Tuple[int, float]] = field(default_factory=list)    # (stamp, latency ms)
    frames: List[Frame] = field(default_factory=list)


class DemoRecorder(Node):
    """Subscribes to what the outputs need; ``video`` adds the camera, lidar and odometry."""

    def __init__(self, video: bool):
        super().__init__('demo_recorder',
                         parameter_overrides=[Parameter('use_sim_time', value=True)])
        self.recording = Recording()
        self._lock = threading.Lock()
        self._last_ns = 0
        self._pose = (0.0, 0.0, 0.0)
        self._speed = 0.0
        self._scan: Optional[np.ndarray] = None
        self._active = ''
        self._predicted = ''
        self._resident: set = set()
        self._swaps = 0
        self._last_swap_ms: Optional[float] = None
        self.scan_geometry: Optional[Tuple[float, float]] = None   # angle_min, increment
        self.create_subscription(DiagnosticArray, 'context_manager/features', self._on_features,
                                 10)
        self.create_subscription(String, 'active_adapter', self._on_active, LATCHED_QOS)
        self.create_subscription(String, 'predicted_adapter', self._on_predicted, LATCHED_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        if video:
            self.create_subscription(Odometry, 'odom', self._on_odom, EVERY_MESSAGE)
            self.create_subscription(LaserScan, 'scan', self._on_scan, EVERY_MESSAGE)
            self.create_subscription(Image, 'camera/image_raw', self._on_image,
                                     EVERY_MESSAGE)

    def _note(self, stamp: int) -> int:
        self._last_ns = max(self._last_ns, stamp)
        return self._last_ns

    def _on_features(self, msg: DiagnosticArray) -> None:
        tick = context_tick(msg)
        if tick is None:
            return
        values = status_values(msg.status[0])
        with self._lock:
            self._note(tick.stamp_ns)
            self.recording.decisions.append((tick.stamp_ns, tick.desired,
                                             values.get('predicted', ''),
                                             float(values.get('confidence', 0.0))))

    def _on_active(self, msg: String) -> None:
        with self._lock:
            self._active = msg.data
            self.recording.active.append((self._last_ns, msg.data))

    def _on_predicted(self, msg: String) -> None:
        with self._lock:
            self._predicted = msg.data

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if not status.name.endswith('inference_node: adapters'):
                continue
            values = status_values(status)
            now = stamp_ns(msg.header.stamp)
            with self._lock:
                self._note(now)
                resident = {n for n in values.get('resident', '').split(',') if n}
                for name in sorted(resident - self._resident):
                    self.recording.resident.append((now, name))
                self._resident = resident
                swaps = int(values.get('swaps', 0))
                if swaps > self._swaps and 'last_swap_ms' in values:
                    self._last_swap_ms = float(values['last_swap_ms'])
                    self.recording.swaps.append((now, self._last_swap_ms))
                self._swaps = swaps

    def _on_odom(self, msg: Odometry) -> None:
        q = msg.pose.pose.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
        twist = msg.twist.twist.linear
        with self._lock:
            self._note(stamp_ns(msg.header.stamp))
            self._pose = (msg.pose.pose.position.x, msg.pose.pose.position.y, yaw)
            self._speed = math.hypot(twist.x, twist.y)

    def _on_scan(self, msg: LaserScan) -> None:
        with self._lock:
            self._scan = np.asarray(msg.ranges, dtype=np.float32)
            self.scan_geometry = (msg.angle_min, msg.angle_increment)

    def _on_image(self, msg: Image) -> None:
        if msg.encoding != 'rgb8':
            return
        rows = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)
        image = rows[:, :msg.width * 3].reshape(msg.height, msg.width, 3).copy()
        with self._lock:
            now = stamp_ns(msg.header.stamp)
            self._note(now)
            predicted = self._predicted
            prefetch = '' if not predicted else (
                'resident' if predicted in self._resident else 'loading')
            frames = self.recording.frames
            if frames and frames[-1].stamp_ns == now:
                frames.pop()   # a reset republishes the instant's image: the new one counts
            frames.append(Frame(
                now, image, self._pose, self._speed, self._scan, self._active, predicted,
                prefetch, self._last_swap_ms))

    def snapshot(self) -> Recording:
        """Return what has been recorded so far (the lists are copied)."""
        with self._lock:
            r = self.recording
            return Recording(list(r.decisions), list(r.active), list(r.resident),
                             list(r.swaps), list(r.frames))


def between(items, start_ns: int, end_ns: int) -> list:
    """Return the stamped items (stamp first) with start_ns <= stamp <= end_ns."""
    return [item for item in items if start_ns <= _stamp_of(item) <= end_ns]


def _stamp_of(item) -> int:
    return item.stamp_ns if isinstance(item, Frame) else item[0]


def adapters_in(recording: Recording) -> Dict[str, int]:
    """Return every adapter name seen in a recording, in order of first appearance."""
    names: Dict[str, int] = {}
    for _, desired, predicted, _ in recording.decisions:
        for name in (desired, predicted):
            if name:
                names.setdefault(name, len(names))
    for _, name in recording.active:
        if name:
            names.setdefault(name, len(names))
    return names
