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
A subscription the node reads itself, when it wants, instead of the executor calling it back.

A node that uses only the newest sensor message, at its own tick, gains nothing from an
executor wake-up per message: at the simulator's rates that is ~75 wake-ups a second (each a
C++-to-Python callback under the GIL) just to keep bytes a tick will read. This subscription is
made on the node's handle with the given QoS, so the graph sees the node subscribed as before
(``ros2 topic info -v``, remapping, namespaces), but it is not registered with the node's
executor: the middleware queues what arrives (up to the QoS history depth) and :meth:`take_all`
drains it, serialized, with the time each message was received.
"""

import time
from typing import List, Tuple

from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.qos import QoSProfile
from rclpy.type_support import check_is_valid_msg_type


class TakenSubscription:
    """A raw subscription on ``node`` that only :meth:`take_all` reads."""

    def __init__(self, node, msg_type, topic: str, qos_profile: QoSProfile):
        check_is_valid_msg_type(msg_type)       # imports the type support, as rclpy does
        self.node = node
        self.msg_type = msg_type
        self.qos_profile = qos_profile
        self.raw = True
        with node.handle:
            self.handle = _rclpy.Subscription(node.handle, msg_type, topic,
                                              qos_profile.get_c_qos_profile(), None)
        self.topic_name = self.handle.get_topic_name()

    def take_all(self, now_s: float) -> List[Tuple[bytes, float]]:
        """
        Return ``[(serialized message, arrival in node-clock seconds)]``, oldest first.

        The arrival is the middleware's receive time, carried onto the node's clock (read as
        ``now_s`` just before): ``now_s`` minus how long ago, in wall time, the message came.
        With the system clock that is the receive time itself; under simulated time it is the
        sim instant at which the message came, as far as one wall-clock offset tells.
        """
        taken = []
        wall_ns = time.time_ns()
        with self.handle:
            while True:
                result = self.handle.take_message(self.msg_type, True)
                if result is None:
                    break
                data, info = result
                received = info['received_timestamp']
                age_s = (wall_ns - received) * 1e-9 if 0 < received <= wall_ns else 0.0
                taken.append((data, now_s - age_s))
        return taken

    def get_publisher_count(self) -> int:
        with self.handle:
            return self.handle.get_publisher_count()

    def destroy(self) -> None:
        self.handle.destroy_when_not_in_use()
