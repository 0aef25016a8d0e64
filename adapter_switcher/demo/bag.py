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
Record every topic of a run into a rosbag2 in MCAP, as ``ros2 bag record --all`` would.

The messages are taken serialized (CDR, ``raw=True``) and written unchanged with the ``rosbags``
library, so ``ros2 bag info``, ``ros2 bag play`` and Foxglove open the bag. New topics are picked
up as they appear on the graph; each is subscribed, once it has a publisher, with the
durability and reliability its publishers offer (and keep-all history), so a latched topic's
current value is recorded too and no message is dropped while the writer catches up.
"""

import importlib
from pathlib import Path
import threading
import time
from typing import Dict, List

from rclpy.clock import Clock
from rclpy.clock import ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy
from rclpy.qos import HistoryPolicy
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer
from rosbags.typesys import get_typestore
from rosbags.typesys import Stores

DISCOVERY_PERIOD_S = 0.2


class BagRecorder(Node):
    """A node that writes every message of every topic to ``path`` (an MCAP rosbag2)."""

    def __init__(self, path: Path):
        super().__init__('demo_bag_recorder')
        self.path = Path(path)
        self._typestore = get_typestore(Stores.ROS2_KILTED)
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._lock = threading.Lock()
        self._connections: Dict[str, object] = {}
        self.skipped: List[str] = []      # topics whose type the typestore does not know
        self._raw_subscriptions = []
        self._discover()
        # Wall-clock discovery: sim time stands still while the graph waits for its nodes.
        self._timer = self.create_timer(DISCOVERY_PERIOD_S, self._discover,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self._connections or topic in self.skipped or not types:
                continue
            msgtype = types[0]
            if msgtype not in self._typestore.types:
                self.skipped.append(topic)
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue   # known only from a subscriber so far: its QoS is not known yet
            qos = self._qos_for(publishers)
            with self._lock:
                self._connections[topic] = self._writer.add_connection(
                    topic, msgtype, typestore=self._typestore)
            self._raw_subscriptions.append(self.create_subscription(
                self._message_class(msgtype), topic,
                lambda data, topic=topic: self._write(topic, data), qos, raw=True))

    @staticmethod
    def _qos_for(publishers) -> QoSProfile:
        reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                       for p in publishers)
        latched = any(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                      for p in publishers)
        return QoSProfile(
            history=HistoryPolicy.KEEP_ALL, depth=1,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)

    @staticmethod
    def _message_class(msgtype: str):
        package, kind, name = msgtype.split('/')
        return getattr(importlib.import_module(f'{package}.{kind}'), name)

    def _write(self, topic: str, data: bytes) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.write(self._connections[topic], time.time_ns(), bytes(data))

    def destroy_node(self):
        """Finish the bag before the node goes away."""
        self.close()
        return super().destroy_node()

    def close(self) -> None:
        """Finish the bag (its metadata.yaml is written now)."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
