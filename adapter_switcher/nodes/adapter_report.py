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
What the inference node tells operators: service messages and diagnostics values.

Pure functions over the engine's plain data (AdapterInfo, ScanReport, SwapReport), so the wording
is tested without ROS and stays the same on every surface.
"""

from collections import deque
import threading
from typing import Deque, Dict, Iterable, List, Mapping, Optional

import numpy as np

SWAP_WINDOW = 512


class SwapStats:
    """The node's own record of completed swaps: latency percentiles and the prefetch hit rate."""

    def __init__(self, window: int = SWAP_WINDOW):
        self._lock = threading.Lock()
        self._seconds: Deque[float] = deque(maxlen=window)
        self._cold: Deque[bool] = deque(maxlen=window)
        self.total = 0
        self._summary: Optional[Dict[str, float]] = None

    def record(self, report) -> None:
        """Add one SwapReport (``seconds``, ``cold``); a no-op swap (same adapter) is skipped."""
        if report.previous == report.active:
            return
        with self._lock:
            self._seconds.append(report.seconds)
            self._cold.append(bool(report.cold))
            self.total += 1
            self._summary = None

    def summary(self) -> Dict[str, float]:
        """
        Return swap count, latency p50/p99/last in ms, cold swaps, hit rate (warm share).

        Worked out again only after a swap was recorded: the node reports it every second,
        and swaps come far less often than that.
        """
        with self._lock:
            if self._summary is None:
                self._summary = self._summarise()
            return dict(self._summary)

    def _summarise(self) -> Dict[str, float]:
        seconds = np.asarray(self._seconds, dtype=np.float64)
        cold = sum(self._cold)
        total = self.total
        if seconds.size == 0:
            return {'swaps': total, 'swap_ms_p50': 0.0, 'swap_ms_p99': 0.0, 'last_swap_ms': 0.0,
                    'cold_swaps': 0, 'prefetch_hit_rate': 0.0}
        return {
            'swaps': total,
            'swap_ms_p50': float(np.percentile(seconds, 50)) * 1e3,
            'swap_ms_p99': float(np.percentile(seconds, 99)) * 1e3,
            'last_swap_ms': float(seconds[-1]) * 1e3,
            'cold_swaps': cold,
            'prefetch_hit_rate': 1.0 - cold / seconds.size,
        }


def describe_swap(report) -> str:
    """Return e.g. ``'navigation -> hazard in 12 us (already resident)'``."""
    kind = 'loaded on demand' if report.cold else 'already resident'
    seconds = report.seconds
    took = f'{seconds * 1e6:.0f} us' if seconds < 1e-3 else f'{seconds * 1e3:.1f} ms'
    return f'{report.previous or "<base>"} -> {report.active or "<base>"} in {took} ({kind})'


def list_adapters_message(infos: Iterable, rejections: Mapping[str, str]) -> str:
    """
    Return one line per adapter: ``name [tier] v<version> rank <r> tags ...``, then rejections.

    Tiers are active, resident (in a GPU/CPU slot), host (in RAM) and disk; pinned adapters are
    marked. Rejected adapters follow with their reasons, so one call explains why a name is
    missing.
    """
    lines: List[str] = []
    for info in sorted(infos, key=lambda i: i.name):
        pinned = ', pinned' if info.pinned else ''
        version = f' v{info.version}' if info.version else ''
        tags = f' tags {",".join(info.tags)}' if info.tags else ''
        lines.append(f'{info.name} [{info.tier}{pinned}]{version} rank {info.rank}{tags}')
    for name, reason in sorted(rejections.items()):
        lines.append(f'{name} [rejected] {reason}')
    return '\n'.join(lines) if lines else 'no adapters found'


def scan_message(report) -> str:
    """Summarise a ScanReport for the ~/reload_adapters response."""
    parts = [f'{len(report.accepted)} accepted ({", ".join(sorted(report.accepted)) or "none"})']
    if report.added:
        parts.append(f'added {", ".join(sorted(report.added))}')
    if report.removed:
        parts.append(f'removed {", ".join(sorted(report.removed))}')
    for name, reason in sorted(report.rejected.items()):
        parts.append(f'rejected {name}: {reason}')
    return '; '.join(parts)


def tier_lists(infos: Iterable) -> Dict[str, str]:
    """Return ``{'resident': 'a,b', 'host': 'c', 'disk': 'd'}``: the cache contents by tier."""
    tiers: Dict[str, List[str]] = {'resident': [], 'host': [], 'disk': []}
    for info in infos:
        tier = 'resident' if info.tier == 'active' else info.tier
        tiers.setdefault(tier, []).append(info.name)
    return {tier: ','.join(sorted(names)) for tier, names in tiers.items()}
