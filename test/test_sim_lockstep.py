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

"""The simulator's lock-step mode: sim time advances one tick per answered command, no further."""

import threading
import time

from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.sim.launch_nodes import simulator_node_spec
from adapter_switcher.sim.lockstep import LockstepGate
from adapter_switcher.sim.lockstep import LockstepTimeout

from dds_harness import DdsHarness
from geometry_msgs.msg import TwistStamped
import pytest
from rosgraph_msgs.msg import Clock

PERIOD_NS = 50_000_000


def _ns(stamp) -> int:
    return stamp.sec * 10**9 + stamp.nanosec


def test_gate_takes_only_the_awaited_tick_and_times_out_with_a_clear_error():
    gate, stop = LockstepGate(timeout_s=0.05, first_timeout_s=60.0), threading.Event()
    gate.expect(50)
    assert gate.wait(stop) == (0.0, 0.0)                 # starting: unanswered ticks go on
    gate.expect(100)
    assert not gate.answer(1.0, 0.0, stamp_ns=50)        # a late answer to an older tick
    assert gate.answer(0.5, 0.1, stamp_ns=100)
    assert gate.wait(stop) == (0.5, 0.1)
    gate.expect(200)
    assert gate.answer(0.2, 0.0)                         # unstamped: answers the awaited tick
    assert not gate.answer(0.3, 0.0)                     # nothing awaited any more
    assert gate.wait(stop) == (0.2, 0.0)
    gate.expect(400)
    with pytest.raises(LockstepTimeout, match=r'no /cmd_vel for tick 0\.000 s within 0\.05 s'):
        gate.wait(stop)
    locked = LockstepGate(timeout_s=0.05, first_timeout_s=60.0, lock_grace_s=0.05)
    locked.expect(10)
    locked.lock()                 # a reset: the awaited tick gets a grace, then goes on ...
    assert locked.wait(stop) == (0.0, 0.0)
    locked.expect(20)             # ... and every later one must be answered
    with pytest.raises(LockstepTimeout, match='waiting for a command'):
        locked.wait(stop)
    never = LockstepGate(timeout_s=60.0, first_timeout_s=0.0)
    never.expect(10**9)
    with pytest.raises(LockstepTimeout, match='waiting for the first command'):
        never.wait(stop)


@pytest.mark.dds
@pytest.mark.sim
def test_lockstep_clock_waits_for_each_stamped_command(tmp_path):
    with DdsHarness(80, tmp_path, node_name='lockstep_test') as dds:
        clock = dds.subscribe(Clock, '/clock', 100)
        commands = dds.publisher(TwistStamped, '/cmd_vel', COMMAND_QOS)
        dds.start(simulator_node_spec(lockstep=True, enable_stamped_cmd_vel=True))
        dds.wait_for(lambda: clock.count() > 0, 120, 'the first lock-step /clock')
        dds.wait_for_subscribers(commands)
        for tick in range(8):
            awaited = _ns(clock.last().clock)
            stale = TwistStamped()
            stale.header.stamp.sec = 0                   # answers no tick: ignored
            commands.publish(stale)
            answer = TwistStamped()
            answer.header.stamp = clock.last().clock
            answer.twist.linear.x = 0.3
            commands.publish(answer)
            dds.wait_for(lambda: _ns(clock.last().clock) > awaited, 60, f'tick {tick}')
        # Locked after the first answer: one /clock per answer, one period apart ...
        times = [_ns(m.clock) for m in clock.messages()]
        assert times[-6:] == [times[-6] + k * PERIOD_NS for k in range(6)]
        # ... and none while the awaited tick stays unanswered.
        time.sleep(1.0)
        assert _ns(clock.last().clock) == times[-1]


@pytest.mark.dds
@pytest.mark.sim
def test_lockstep_without_a_controller_fails_with_one_fatal_line(tmp_path):
    with DdsHarness(81, tmp_path, node_name='lockstep_timeout_test') as dds:
        process = dds.start(simulator_node_spec(lockstep=True, lockstep_startup_timeout_s=2.0))
        dds.wait_for(lambda: not process.alive(), 120, 'the simulator to give up',
                     require_alive=False)
        assert process.popen.returncode == 1
        log = process.tail()
        assert 'no /cmd_vel for tick' in log and 'is a controller running' in log
        assert 'Traceback' not in log
