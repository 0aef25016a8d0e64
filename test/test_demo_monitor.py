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
The demo's monitor keeps an episode's first ticks however late it sees the reset's reply.

In lock-step the simulator runs the new episode as soon as it has reset; on a loaded machine the
monitor's thread could see the reply 0.6 s of sim time later, and the odometry in between was
dropped (the demo printed "timing check: odometry spans 19.45 s but the episode took 20.10 s").
"""

from adapter_switcher.demo.run_demo import DemoMonitor
from nav_msgs.msg import Odometry
import pytest
import rclpy

DOMAIN = 87
TICK_NS = 50_000_000


def odometry(stamp_ns: int, x: float) -> Odometry:
    msg = Odometry()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    msg.pose.pose.position.x = x
    msg.twist.twist.linear.x = 0.5
    return msg


@pytest.fixture
def monitor():
    rclpy.init(domain_id=DOMAIN)
    node = DemoMonitor(goal=(10.0, 0.0), tolerance=0.3, time_limit_s=20.0,
                       stamped_commands=False)
    yield node
    node.destroy_node()
    rclpy.shutdown()


def test_odometry_before_the_reply_counts_from_the_reset_on(monitor):
    start = 40 * TICK_NS
    for tick in range(30, 53):  # before the reset, its own instant, and 12 ticks after it
        monitor._on_odom(odometry(tick * TICK_NS, 0.01 * tick))
    _, trace = monitor.begin_episode(seed=7, start_ns=start)
    monitor._on_odom(odometry(53 * TICK_NS, 0.53))
    elapsed = [sample[0] for sample in trace.samples]
    assert elapsed == pytest.approx([0.05 * k for k in range(1, 14)])
    assert trace.samples[0][1] == pytest.approx(0.41)


def test_the_goal_reached_before_the_reply_ends_the_episode(monitor):
    monitor._on_odom(odometry(5 * TICK_NS, 10.1))
    episode, _ = monitor.begin_episode(seed=8, start_ns=4 * TICK_NS)
    assert monitor.episode_done() and episode.reached_goal
    assert episode.sim_time == pytest.approx(0.05)
