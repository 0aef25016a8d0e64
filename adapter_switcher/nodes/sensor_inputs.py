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
The sensor subscriptions both nodes share: scan, camera and odometry into a FeatureExtractor.

Each message is converted (:mod:`conversions`), fed to the extractor, and its arrival time on the
node's clock recorded, so the inference node's watchdog sees a sensor as alive only while it
delivers usable data. A message that cannot be used (an unsupported image encoding, a size that
does not add up, non-finite scan geometry or odometry) is dropped and counted, with a warning
throttled per sensor (a broken camera cannot hide a broken lidar); no sensor value can take a
node down.

No callback per message: a node that reads the sensors on its own schedule (a control tick, a
rules timer) subscribes with :class:`TakenSubscription`, which the executor never wakes for; the
middleware queues the serialized messages (up to the QoS depth) and each read takes them, with
the time each one was received. The newest usable message of each sensor is then deserialized
and used, so a 50 Hz odometry costs one deserialization per 20 Hz tick instead of 50 a second
(an Odometry message takes ~60 us to build in Python) and no executor wake-up at all. Features
depend on the latest message only, so the node sees the same values. Messages are tried newest
first: unusable ones are dropped and counted until a usable one is found, and the older ones it
supersedes are never looked at, so a flood of junk on a topic cannot hide the valid messages
between (as far as the queue holds them). :meth:`SensorInputs.receive` hands bytes in the same
way without DDS. With ``on_update`` (evaluate on every message) the subscriptions are ordinary
callbacks and each message is converted on arrival.
"""

from collections import deque
import threading
from typing import Callable, Deque, Dict, NamedTuple, Optional, Tuple

from adapter_switcher.nodes.conversions import image_to_array
from adapter_switcher.nodes.conversions import odom_to_twist
from adapter_switcher.nodes.conversions import scan_to_data
from adapter_switcher.nodes.conversions import ScanData
from adapter_switcher.nodes.qos import SENSOR_QOS
from adapter_switcher.nodes.sensor_cdr import read_sensor
from adapter_switcher.nodes.taken_subscription import TakenSubscription

from nav_msgs.msg import Odometry
import numpy as np
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan

# Sensor name -> (topic, message type). Topic names are relative, so namespaces and remapping
# (``-r scan:=/front_lidar/scan``) work.
SENSOR_TOPICS = {
    'scan': ('scan', LaserScan),
    'camera': ('camera/image_raw', Image),
    'odom': ('odom', Odometry),
}
BAD_MESSAGE_LOG_PERIOD_S = 5.0
PENDING_KEPT = 64


class SensorReading(NamedTuple):
    """What one read gives a control tick: features, when each sensor last worked, the scan."""

    snapshot: object                # the extractor's FeatureSnapshot at the read's stamp
    last_seen: Dict[str, float]     # {sensor: node-clock seconds of its last usable message}
    scan: Optional[ScanData]
    image: Optional[Tuple[np.ndarray, str]] = None   # the last usable image and its encoding
    odom: Optional[Odometry] = None   # the last usable odometry message (or its CDR view)


class SensorInputs:
    """Subscribes the sensors on ``node`` and keeps the extractor and freshness up to date."""

    def __init__(self, node, extractor,
                 on_update: Optional[Callable[[str], None]] = None):
        self._node = node
        self._extractor = extractor
        self._on_update = on_update
        self._lock = threading.Lock()
        self._last_seen: Dict[str, float] = {}
        self._dropped: Dict[str, int] = dict.fromkeys(SENSOR_TOPICS, 0)
        self._loggers = {name: node.get_logger().get_child(name) for name in SENSOR_TOPICS}
        self._scan: Optional[ScanData] = None
        self._image: Optional[Tuple[np.ndarray, str]] = None
        self._odom: Optional[Odometry] = None
        self._lazy = on_update is None
        self._pending: Dict[str, Deque[Tuple[bytes, float]]] = {}
        self._catch_up_lock = threading.Lock()
        handlers = {'scan': self._on_scan, 'camera': self._on_image, 'odom': self._on_odom}
        self._handlers = handlers
        if self._lazy:
            self._readers = {name: TakenSubscription(node, msg_type, topic, SENSOR_QOS)
                             for name, (topic, msg_type) in SENSOR_TOPICS.items()}
            self.subscriptions = list(self._readers.values())
        else:
            self._readers = {}
            self.subscriptions = [
                node.create_subscription(msg_type, topic, handlers[name], SENSOR_QOS)
                for name, (topic, msg_type) in SENSOR_TOPICS.items()]

    def _now(self) -> float:
        return self._node.get_clock().now().nanoseconds * 1e-9

    def receive(self, sensor: str, data: bytes, arrived: Optional[float] = None) -> None:
        """Keep one serialized ``sensor`` message for the next read (lazy mode), as DDS would."""
        with self._lock:
            kept = self._pending.get(sensor)
            if kept is None:
                kept = self._pending[sensor] = deque(maxlen=PENDING_KEPT)
            kept.append((data, self._now() if arrived is None else arrived))

    def _catch_up(self, now: Optional[float] = None) -> None:
        """Use the newest usable unread message of each sensor (lazy mode)."""
        if not self._lazy:
            return
        with self._catch_up_lock:
            now = self._now() if now is None else now
            for sensor, reader in self._readers.items():
                for data, arrived in reader.take_all(now):
                    self.receive(sensor, data, arrived)
            with self._lock:
                pending, self._pending = self._pending, {}
            for sensor, kept in pending.items():
                for data, arrived in reversed(kept):
                    try:
                        msg = read_sensor(data, SENSOR_TOPICS[sensor][1])
                    except Exception as error:  # noqa: B902 - undecodable bytes: drop them
                        self._drop(sensor, f'cannot deserialize it: {error}')
                        continue
                    if self._handlers[sensor](msg, arrived):
                        break

    def _accept(self, sensor: str, update: Callable[[float], None],
                now: Optional[float] = None) -> bool:
        """Apply one message's ``update``; return False if it was unusable (dropped)."""
        now = self._now() if now is None else now
        try:
            with self._lock:
                update(now)
                self._last_seen[sensor] = now
        except (ValueError, TypeError, ArithmeticError) as error:
            self._drop(sensor, str(error))
            return False
        if self._on_update is not None:
            self._on_update(sensor)
        return True

    def _drop(self, sensor: str, reason: str) -> None:
        with self._lock:
            self._dropped[sensor] += 1
            dropped = self._dropped[sensor]
        self._loggers[sensor].warning(
            f'dropping a {sensor} message ({dropped} so far): {reason}',
            throttle_duration_sec=BAD_MESSAGE_LOG_PERIOD_S)

    def _on_scan(self, msg: LaserScan, now: Optional[float] = None) -> bool:
        def update(now):
            scan = scan_to_data(msg)
            self._extractor.update_scan(scan.ranges, scan.angle_min, scan.angle_increment,
                                        scan.range_min, scan.range_max, now)
            self._scan = scan
        return self._accept('scan', update, now)

    def _on_image(self, msg: Image, now: Optional[float] = None) -> bool:
        def update(now):
            image, encoding = image_to_array(msg)
            self._extractor.update_image(image, encoding, now)
            self._image = image, encoding
        return self._accept('camera', update, now)

    def _on_odom(self, msg: Odometry, now: Optional[float] = None) -> bool:
        def update(now):
            self._extractor.update_odom(*odom_to_twist(msg), now)
            self._odom = msg
        return self._accept('odom', update, now)

    def read(self, stamp: float, now: Optional[float] = None) -> SensorReading:
        """
        Take what arrived and return the tick's :class:`SensorReading` in one go.

        ``now`` is the node clock's time in seconds if the caller has just read it (a timer
        tick's stamp is): it dates the messages taken, instead of reading the clock again.
        """
        self._catch_up(now)
        with self._lock:
            return SensorReading(self._extractor.snapshot(stamp), dict(self._last_seen),
                                 self._scan, self._image, self._odom)

    def snapshot(self, stamp: float):
        """Return the extractor's FeatureSnapshot, consistent with respect to the callbacks."""
        self._catch_up()
        with self._lock:
            return self._extractor.snapshot(stamp)

    def dropped(self) -> Dict[str, int]:
        """Return ``{sensor: messages dropped as unusable}`` since start."""
        self._catch_up()
        with self._lock:
            return dict(self._dropped)

    def last_seen(self) -> Dict[str, float]:
        """Return ``{sensor: node-clock seconds of its last usable message}``."""
        self._catch_up()
        with self._lock:
            return dict(self._last_seen)


def stale_sensors(required, last_seen: Dict[str, float], now: float,
                  timeout_s: float) -> Dict[str, Optional[float]]:
    """
    Return ``{sensor: age_s or None if never seen}`` for required sensors silent too long.

    A clock that jumped backwards (simulation reset) makes ages negative; those count as fresh.
    """
    stale = {}
    for sensor in required:
        seen = last_seen.get(sensor)
        if seen is None:
            stale[sensor] = None
        elif now - seen > timeout_s:
            stale[sensor] = now - seen
    return stale
