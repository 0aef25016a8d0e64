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
Engine metrics as plain numbers: counters and latency percentiles over a sliding window.

Everything the engine measures lands here and leaves as a flat dict of ints and floats, so a ROS
node can put it on /diagnostics and a benchmark can write it to JSON without knowing the engine.
"""

from collections import Counter
from collections import deque
import threading
from typing import Deque, Dict

WINDOW = 4096


def percentile(samples, q: float) -> float:
    """Return the q-th percentile of ``samples`` (q in 0..100), nearest rank; 0.0 if empty."""
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    rank = min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class LatencyWindow:
    """The last WINDOW durations of one kind, with percentiles."""

    def __init__(self):
        self._samples: Deque[float] = deque(maxlen=WINDOW)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def percentile(self, q: float) -> float:
        """Return the q-th percentile in seconds (q in 0..100), by nearest rank; 0.0 if empty."""
        return percentile(self._samples, q)

    def __len__(self) -> int:
        return len(self._samples)


class EngineMetrics:
    """Thread-safe counters and latency windows, exported by :meth:`as_dict`."""

    LATENCIES = ('switch', 'cold_activation', 'slot_load', 'host_load', 'probe',
                 'switch_to_output_hit', 'switch_to_output_miss')
    COUNTERS = ('steps', 'swaps', 'requests', 'request_hits', 'request_misses',
                'request_failures', 'predictions', 'prefetch_wasted', 'prefetch_failures',
                'slot_hits', 'slot_misses', 'probe_failures', 'probes_remembered', 'probes_ahead',
                'revalidations', 'scans')

    def __init__(self):
        self._lock = threading.Lock()
        self.counters: Counter = Counter(dict.fromkeys(self.COUNTERS, 0))
        self.latencies: Dict[str, LatencyWindow] = {k: LatencyWindow() for k in self.LATENCIES}

    def count(self, name: str, increment: int = 1) -> None:
        with self._lock:
            self.counters[name] += increment

    def observe(self, latency: str, seconds: float) -> None:
        with self._lock:
            self.latencies[latency].add(seconds)

    def as_dict(self) -> Dict[str, float]:
        """Return counters and, per latency kind, count, p50 and p99 in microseconds."""
        with self._lock:
            out: Dict[str, float] = dict(self.counters)
            for name, window in self.latencies.items():
                out[f'{name}_count'] = len(window)
                out[f'{name}_us_p50'] = window.percentile(50) * 1e6
                out[f'{name}_us_p99'] = window.percentile(99) * 1e6
        requests = out.get('request_hits', 0) + out.get('request_misses', 0)
        out['prefetch_hit_rate'] = out.get('request_hits', 0) / requests if requests else 0.0
        return out
