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
``adapter-switcher demo --bag`` end to end, as a user runs it: the output folder is right.

One lock-step episode over DDS, started without MUJOCO_GL or a display (the simulator must pick
a headless backend itself). The video decodes with one frame per camera image of the episode,
the pictures are real images, summary.json's switches are the /active_adapter messages the bag
holds, and the bag reads back with every topic of the run.
"""

import json
import math
import subprocess
import sys

from adapter_switcher.paths import share_path
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world

from dds_harness import node_env
import imageio.v3 as iio
import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import get_typestore
from rosbags.typesys import Stores

DOMAIN_ID = 84
SEED = 1
EXPECTED_TOPICS = {
    '/clock', '/scan', '/camera/image_raw', '/camera/camera_info', '/odom', '/cmd_vel',
    '/active_adapter', '/desired_adapter', '/predicted_adapter', '/context_manager/features',
    '/diagnostics', '/simulator/collision', '/simulator/on_spill',
}


def _camera_frames(sim_time_s: float, rate_hz: float) -> int:
    """Camera images in an episode: one at the reset instant, then one per period."""
    end_ns = round(sim_time_s * 1e9)
    return sum(1 for k in range(int(sim_time_s * rate_hz) + 2)
               if round(k * 1e9 / rate_hz) <= end_ns)


def _from_first_adapter(names):
    """
    Drop a leading '' (the node's "no adapter yet", latched at activation).

    The monitor and the bag recorder subscribe to /active_adapter separately; under load one of
    them can match the node's latched writer only after the first swap has replaced that value.
    """
    return names[1:] if names and names[0] == '' else names


@pytest.mark.dds
@pytest.mark.sim
def test_demo_with_bag_writes_a_video_plots_summary_and_bag(tmp_path):
    out = tmp_path / 'out'
    env = node_env(DOMAIN_ID)
    for name in ('MUJOCO_GL', 'PYOPENGL_PLATFORM', 'DISPLAY', 'WAYLAND_DISPLAY'):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, '-m', 'adapter_switcher.cli', 'demo', '--episodes', '1', '--seed',
         str(SEED), '--out', str(out), '--bag'],
        env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    log = (out / 'demo_nodes.log').read_text() if (out / 'demo_nodes.log').exists() else ''
    assert f'outputs in {out}' in done.stdout, done.stdout + done.stderr + log[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    (episode,) = summary['episodes']
    assert done.returncode == (0 if episode['success'] else 1)
    assert summary['mode'] == 'lock-step' and summary['timing'] == []
    assert not (tmp_path / 'demo_nodes.log').exists()   # nothing lands in the working dir

    # The video: one frame per camera image of the episode, decodable.
    camera_rate = load_world(share_path(DEFAULT_WORLD)).robot.camera.update_rate
    expected = _camera_frames(episode['sim_time_s'], camera_rate)
    frames = list(iio.imiter(out / 'demo.mp4', plugin='pyav'))
    assert len(frames) == expected == summary['video_frames']
    assert frames[0].ndim == 3 and frames[0].shape[2] == 3 and frames[-1].std() > 10
    gif = iio.imread(out / 'demo.gif', index=None)
    assert gif.shape[0] == summary['gif_frames'] > 1
    assert (out / 'demo.gif').stat().st_size < 8 * 2**20

    # The pictures are real, non-blank images.
    for name in ('trajectories.png', 'timeline.png'):
        image = iio.imread(out / name)
        assert image.shape[0] > 200 and image.shape[1] > 300 and image.std() > 10, name

    # summary.json: the outcome and its switches, and the swap statistics.
    assert episode['outcome'] in ('success', 'spill entered', 'collision', 'goal not reached')
    assert all(math.isfinite(v) for v in episode['final_pose'])
    assert len(episode['swap_latencies_ms']) >= len(episode['switches']) - 1
    assert 0.0 <= summary['inference_node']['prefetch_hit_rate'] <= 1.0

    # The bag: every topic of the run, and summary.json's switches are its /active_adapter.
    typestore = get_typestore(Stores.ROS2_KILTED)
    with Reader(out / 'bag') as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert EXPECTED_TOPICS <= {t for t, n in counts.items() if n > 0}, counts
        active = [c for c in reader.connections if c.topic == '/active_adapter']
        adapters = [typestore.deserialize_cdr(raw, conn.msgtype).data
                    for conn, _, raw in reader.messages(connections=active)]
        odom = [c for c in reader.connections if c.topic == '/odom']
        poses = [typestore.deserialize_cdr(raw, conn.msgtype).pose.pose.position
                 for conn, _, raw in reader.messages(connections=odom)]
    assert adapters and adapters[-1]
    assert _from_first_adapter([s['adapter'] for s in summary['switches']]) == \
        _from_first_adapter(adapters)
    assert {s['adapter'] for s in episode['switches']} <= set(adapters)
    x, y = episode['final_pose']
    assert min(np.hypot(p.x - x, p.y - y) for p in poses) < 1e-4   # 4 decimals in the JSON
