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
A flood of malformed sensor messages over DDS, for the flood test and bench/reliability.py.

The conversion fuzz (test_nodes_sensor_fuzz.py) calls the subscription callbacks directly; this
sends the same cases (malformed_inputs.SENSOR_CASES) through DDS to a running node, round-robin
on its sensor topics at ``rate_hz`` messages per second, from a thread of its own paced by a
deadline schedule. Each message is built once and sent again and again (publishing does not
change it), so the flood costs the publisher little more than the serialisation.

Cases whose payload exceeds :data:`FLOOD_MAX_BYTES` are left out: the 80 MiB image is never
delivered by a best-effort DDS transport (none of three arrived, measured here) and takes about
0.2 s to publish, so it would only slow the flood down; the conversion fuzz covers it.
"""

import dataclasses
import threading
import time
from typing import Dict, List, Tuple

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import SENSOR_QOS
from adapter_switcher.nodes.sensor_inputs import SENSOR_TOPICS

from malformed_inputs import SENSOR_CASES

FLOOD_MAX_BYTES = 16 << 20
DROP_WARNING = 'dropping a '   # the start of the node's throttled warning for a dropped message
MAX_BACKLOG_S = 1.0            # a flood that stalled longer does not burst to catch up


def payload_bytes(msg) -> int:
    """Return the size of a sensor message's bulk data (image bytes, scan floats)."""
    if hasattr(msg, 'data'):
        return len(msg.data)
    if hasattr(msg, 'ranges'):
        return 4 * (len(msg.ranges) + len(msg.intensities))
    return 0


def flood_cases() -> Tuple[List[tuple], List[str]]:
    """Return ``([(case, sensor, message), ...], [names of the cases left out])``."""
    cases, skipped = [], []
    for case, sensor, make in SENSOR_CASES:
        msg = make()
        if payload_bytes(msg) > FLOOD_MAX_BYTES:
            skipped.append(case)
        else:
            cases.append((case, sensor, msg))
    return cases, skipped


class SensorFlood:
    """Publishes the malformed cases on ``node``'s sensor topics while started."""

    def __init__(self, node, rate_hz: float, namespace: str = ''):
        prefix = namespace.rstrip('/') + '/' if namespace else ''
        self._publishers = {name: node.create_publisher(msg_type, prefix + topic, SENSOR_QOS)
                            for name, (topic, msg_type) in SENSOR_TOPICS.items()}
        self.cases, self.skipped = flood_cases()
        self.rate_hz = rate_hz
        self.published: Dict[str, int] = dict.fromkeys(SENSOR_TOPICS, 0)
        self._stop = threading.Event()
        self._thread = None

    def total(self) -> int:
        return sum(self.published.values())

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_send = time.monotonic()
        index = 0
        while not self._stop.is_set():
            _case, sensor, msg = self.cases[index % len(self.cases)]
            self._publishers[sensor].publish(msg)
            self.published[sensor] += 1
            index += 1
            next_send += period
            delay = next_send - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif -delay > MAX_BACKLOG_S:
                next_send = time.monotonic()


def flood_target_spec(demo_dir, **parameters):
    """Return the inference node's NodeSpec on the demo adapters, driving on navigation."""
    spec = next(s for s in robot_node_specs(adapters_dir=demo_dir / 'adapters')
                if s.name == 'inference_node')
    overrides = {'model_weights': str(demo_dir / 'base_policy.safetensors'),
                 'adapter_override': 'navigation', **parameters}
    return dataclasses.replace(spec, parameters=tuple(spec.parameters) + (overrides,))


def node_dropped(diagnostics) -> Dict[str, int]:
    """Return the inference node's ``{sensor: dropped}`` from its latest /diagnostics message."""
    for array in reversed(diagnostics.messages()):
        for status in array.status:
            values = status_values(status)
            if 'dropped.scan' in values:
                return {name: int(values[f'dropped.{name}']) for name in SENSOR_TOPICS}
    return {}


def drop_warnings(log_text: str) -> int:
    """Return how many 'dropping a ... message' warning lines a node's log holds."""
    return sum(DROP_WARNING in line for line in log_text.splitlines())
