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
The demo's output folder: summary.json, trajectories.png, timeline.png, demo.mp4, demo.gif.

Everything comes from the run's records (:class:`~adapter_switcher.demo.run_demo.DemoRun` and
:class:`~adapter_switcher.demo.recording.Recording`), cut into episodes by sim-time stamps.
"""

import json
from pathlib import Path
from typing import Dict, List, Optional, TextIO

from adapter_switcher.demo.closed_loop import EpisodeResult
from adapter_switcher.demo.plots import plot_timeline
from adapter_switcher.demo.plots import plot_trajectories
from adapter_switcher.demo.recording import adapters_in
from adapter_switcher.demo.recording import between
from adapter_switcher.demo.recording import Recording
from adapter_switcher.demo.run_demo import DemoRun
from adapter_switcher.demo.video import episode_frames
from adapter_switcher.demo.video import MapView
from adapter_switcher.demo.video import write_gif
from adapter_switcher.demo.video import write_mp4
from adapter_switcher.sim.scenario import sample_episode
from adapter_switcher.sim.scenario import Scenario

SUMMARY_KEYS = ('swaps', 'swap_ms_p50', 'swap_ms_p99', 'cold_swaps', 'prefetch_hit_rate')


def outcome(result: EpisodeResult) -> str:
    """Return 'success', 'spill entered', 'collision' or 'goal not reached'."""
    if result.success:
        return 'success'
    if result.spill_entries:
        return 'spill entered'
    return 'collision' if result.collisions else 'goal not reached'


def _end_ns(run: DemoRun, index: int) -> int:
    return run.traces[index].start_ns + round(run.episodes[index].sim_time * 1e9)


def _seconds(stamp_ns: int, start_ns: int) -> float:
    return round((stamp_ns - start_ns) * 1e-9, 3)


def summary(run: DemoRun, recording: Recording, extra: Dict) -> Dict:
    """Return the summary.json content."""
    episodes = []
    for index, (result, trace) in enumerate(zip(run.episodes, run.traces)):
        end = _end_ns(run, index)
        episodes.append({
            'seed': result.seed,
            'outcome': outcome(result),
            'success': result.success,
            'reached_goal': result.reached_goal,
            'collisions': result.collisions,
            'spill_entries': result.spill_entries,
            'sim_time_s': round(result.sim_time, 3),
            'final_pose': [round(v, 4) for v in result.final_pose],
            'switches': [{'t_s': round(t, 3), 'adapter': name, 'x': round(x, 3)}
                         for t, name, x in result.switches],
            'swap_latencies_ms': [ms for _, ms in between(recording.swaps, trace.start_ns,
                                                          end)],
        })
    values = run.diagnostics
    return {
        'mode': 'lock-step' if run.lockstep else 'free-running',
        'episodes_succeeded': sum(r.success for r in run.episodes),
        'episodes': episodes,
        'switches': [{'t_s': round(stamp * 1e-9, 3), 'adapter': name}
                     for stamp, name in run.active_messages],
        'inference_node': {key: float(values[key]) for key in SUMMARY_KEYS if key in values},
        **extra,
    }


def write_summary(path: Path, content: Dict) -> None:
    path.write_text(json.dumps(content, indent=2) + '\n')


def _spill_of(scenario: Scenario, seed: int):
    return sample_episode(scenario, seed).spill


def write_plots(out: Path, run: DemoRun, recording: Recording, view: MapView,
                scenario: Scenario) -> None:
    """Write trajectories.png and timeline.png."""
    order = adapters_in(recording)
    maps, rows = [], []
    for index, (result, trace) in enumerate(zip(run.episodes, run.traces)):
        spill = _spill_of(scenario, result.seed)
        label = f'seed {result.seed}'
        maps.append({'samples': trace.samples, 'label': label,
                     'spill': None if spill is None else (*spill.position, spill.size[0])})
        start, end = trace.start_ns, _end_ns(run, index)
        decisions = between(recording.decisions, start, end)
        active = [(0.0, _active_at(recording, start))] + [
            (_seconds(s, start), name) for s, name in between(recording.active, start, end)]
        rows.append({
            'label': f'{label}\n{outcome(result)}', 'duration': result.sim_time,
            'desired': [(_seconds(s, start), d) for s, d, _, _ in decisions],
            'predicted': [(_seconds(s, start), p if p != d else '') for s, d, p, _ in decisions],
            'active': active,
            'resident': [(_seconds(s, start), n)
                         for s, n in between(recording.resident, start, end)],
        })
    plot_trajectories(out / 'trajectories.png', view, maps, order)
    plot_timeline(out / 'timeline.png', rows, order)


def _active_at(recording: Recording, stamp_ns: int) -> str:
    before = [name for s, name in recording.active if s < stamp_ns]
    return before[-1] if before else ''


def write_video(out: Path, run: DemoRun, recording: Recording, view: MapView,
                scenario: Scenario, fps: float,
                geometry: Optional[tuple]) -> Dict[str, int]:
    """Write demo.mp4 (every episode) and demo.gif (the first success, or the first episode)."""
    order = adapters_in(recording)
    goal = scenario.waypoints[-1]

    def frames_of(index: int):
        result, trace = run.episodes[index], run.traces[index]
        base = view.episode_base(_spill_of(scenario, result.seed), goal, scenario.tolerance)
        label = f'episode {index + 1}/{len(run.episodes)}  seed {result.seed}'
        return episode_frames(between(recording.frames, trace.start_ns, _end_ns(run, index)),
                              view, base, trace.start_ns, label, order, geometry)

    def every_frame():
        for index in range(len(run.episodes)):
            yield from frames_of(index)

    counts = {'video_frames': write_mp4(out / 'demo.mp4', every_frame(), fps)}
    wins = [i for i, r in enumerate(run.episodes) if r.success]
    if run.episodes:
        counts['gif_frames'] = write_gif(out / 'demo.gif', frames_of((wins or [0])[0]), fps)
    return counts


def print_table(results: List[EpisodeResult], content: Dict, stream: TextIO) -> None:
    """Print the final table: one row per episode, then the swap statistics."""
    header = f'{"seed":>5}  {"outcome":<16} {"sim time":>9} {"switches":>9}  {"swap (us)":>10}'
    print(header, file=stream)
    print('-' * len(header), file=stream)
    for row in content['episodes']:
        latencies = row['swap_latencies_ms']
        swap = f'{1e3 * max(latencies):.0f}' if latencies else '-'
        print(f'{row["seed"]:>5}  {row["outcome"]:<16} {row["sim_time_s"]:>8.2f}s '
              f'{len(row["switches"]):>9}  {swap:>10}', file=stream)
    wins = content['episodes_succeeded']
    print(f'\n{wins}/{len(results)} episodes reached the end of the aisle without collision or '
          'spill entry', file=stream)
    node = content['inference_node']
    if node:
        print('inference node: ' + ', '.join(f'{k} {v:g}' for k, v in node.items()),
              file=stream)
