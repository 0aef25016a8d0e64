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
The demo's two pictures, drawn with matplotlib.

``trajectories.png``: every episode's path on the warehouse map, coloured by the active adapter,
with its spill. ``timeline.png``: per episode, the desired, predicted and active adapter against
sim time, with each swap and each prefetch completion (an adapter becoming resident) marked.
"""

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from adapter_switcher.demo.video import adapter_colour
from adapter_switcher.demo.video import MapView

import matplotlib
matplotlib.use('Agg')  # files only: no display needed
from matplotlib import pyplot as plt  # noqa: E402,I100 - after choosing the backend
from matplotlib.lines import Line2D  # noqa: E402,I100
from matplotlib.patches import Circle  # noqa: E402,I100

DPI = 110


def _rgb(colour: Tuple[int, int, int]) -> Tuple[float, float, float]:
    return tuple(c / 255.0 for c in colour)


def plot_trajectories(path: Path, view: MapView, episodes: Sequence[dict],
                      order: Dict[str, int]) -> None:
    """
    Draw every episode on the map.

    Each episode is a dict with ``samples`` [(t, x, y, speed, active)], ``spill`` (x, y, radius)
    or None, and ``label``.
    """
    height, width = view.background.shape[:2]
    x0, y0 = view.origin
    extent = (x0, x0 + width / view.scale, y0, y0 + height / view.scale)
    figure, axes = plt.subplots(figsize=(width / 60, height / 60 + 0.8), dpi=DPI)
    axes.imshow(view.background, extent=extent, origin='upper')
    for episode in episodes:
        if episode['spill'] is not None:
            x, y, radius = episode['spill']
            axes.add_patch(Circle((x, y), radius, color=_rgb((0, 204, 230)), alpha=0.5, lw=0))
        samples = episode['samples']
        for a, b in zip(samples, samples[1:]):
            axes.plot([a[1], b[1]], [a[2], b[2]], color=_rgb(adapter_colour(b[4], order)),
                      lw=1.6, solid_capstyle='round')
        if samples:
            axes.annotate(episode['label'], samples[0][1:3], fontsize=7,
                          xytext=(-4, 6), textcoords='offset points')
    handles = [Line2D([], [], color=_rgb(adapter_colour(name, order)), lw=3, label=name)
               for name in order]
    handles.append(Line2D([], [], marker='o', ls='', color=_rgb((0, 204, 230)), label='spill'))
    axes.legend(handles=handles, loc='upper right', fontsize=8, framealpha=0.9)
    axes.set_xlabel('x (m)')
    axes.set_ylabel('y (m)')
    axes.set_title('Trajectories, coloured by the active adapter')
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _steps(events: List[Tuple[float, str]], end: float, order: Dict[str, int]):
    """Return x, y arrays of a step line through (time, adapter) events; '' is a gap."""
    xs, ys = [], []
    for (t, name), nxt in zip(events, events[1:] + [(end, None)]):
        y = order.get(name, float('nan')) if name else float('nan')
        xs += [t, nxt[0]]
        ys += [y, y]
    return xs, ys


def plot_timeline(path: Path, episodes: Sequence[dict], order: Dict[str, int]) -> None:
    """
    Draw one row per episode.

    Each episode is a dict with ``label``, ``duration``, and lists of (seconds, ...) events:
    ``desired`` and ``predicted`` [(t, adapter)], ``active`` [(t, adapter)], ``resident``
    [(t, adapter)] (prefetch or load completions).
    """
    rows = max(1, len(episodes))
    figure, axes_list = plt.subplots(rows, 1, figsize=(10, 1.6 + 1.25 * rows), dpi=DPI,
                                     squeeze=False)
    names = sorted(order, key=order.get)
    for axes, episode in zip(axes_list[:, 0], episodes):
        end = episode['duration']
        for key, style in (('desired', {'lw': 6, 'alpha': 0.35, 'color': 'tab:green'}),
                           ('predicted', {'lw': 1.5, 'ls': '--', 'color': 'tab:purple'}),
                           ('active', {'lw': 1.5, 'color': 'black'})):
            xs, ys = _steps(episode[key], end, order)
            axes.plot(xs, ys, label=key, **style)
        for t, _ in episode['active'][1:]:
            axes.axvline(t, color='tab:red', lw=0.8, alpha=0.7)
        for t, name in episode['resident']:
            axes.plot([t], [order.get(name, 0)], marker='v', ms=8, color='tab:orange', ls='')
        axes.set_yticks(range(len(names)), names)
        axes.set_ylim(-0.6, len(names) - 0.4)
        axes.set_xlim(0, max(end, 1e-3))
        axes.set_ylabel(episode['label'], fontsize=8)
        axes.grid(axis='x', alpha=0.3)
    axes_list[-1, 0].set_xlabel('sim time in the episode (s)')
    handles = [Line2D([], [], lw=6, alpha=0.35, color='tab:green', label='desired'),
               Line2D([], [], lw=1.5, ls='--', color='tab:purple', label='predicted'),
               Line2D([], [], lw=1.5, color='black', label='active'),
               Line2D([], [], lw=0.8, color='tab:red', label='swap'),
               Line2D([], [], marker='v', ls='', color='tab:orange',
                      label='prefetch/load complete')]
    figure.legend(handles=handles, loc='upper center', ncol=5, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (1.6 + 1.25 * rows)))
    figure.savefig(path)
    plt.close(figure)
