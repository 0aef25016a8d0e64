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

"""Sensor schedules on the sim clock and real-time pacing (with a fake clock: no wall time)."""

from adapter_switcher.sim.timing import RateSchedule
from adapter_switcher.sim.timing import RealTimePacer

import pytest

STEP_NS = 10_000_000  # 100 Hz physics


def _fire_times(rate_hz, seconds, start_ns=0):
    schedule = RateSchedule(rate_hz, start_ns)
    times = []
    for step in range(1, round(seconds * 1e9 / STEP_NS) + 1):
        now = start_ns + step * STEP_NS
        if schedule.due(now):
            times.append(now)
    return times


@pytest.mark.parametrize('rate_hz', [10.0, 15.0, 30.0, 7.0])
def test_rate_schedule_averages_the_exact_rate(rate_hz):
    times = _fire_times(rate_hz, 60.0, start_ns=123 * STEP_NS)
    assert len(times) == round(rate_hz * 60.0)
    gaps = {b - a for a, b in zip(times, times[1:])}
    period = 1e9 / rate_hz
    assert all(period - STEP_NS < gap < period + STEP_NS for gap in gaps)


def test_rate_schedule_faster_than_physics_fires_once_per_step():
    times = _fire_times(250.0, 1.0)
    assert len(times) == 100 and len(set(times)) == 100


def test_rate_schedule_rejects_non_positive_rates():
    with pytest.raises(ValueError, match='rate must be positive'):
        RateSchedule(0.0)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_holds_the_factor():
    clock = FakeClock()
    pacer = RealTimePacer(5.0, clock, clock.sleep)
    for step in range(101):
        clock.now += 0.0005  # each step costs 0.5 ms of wall time
        pacer.wait(step * 0.01)
    assert clock.now - 100.0 - 0.0005 == pytest.approx(1.0 / 5.0, abs=1e-9)


def test_pacer_at_factor_zero_never_sleeps():
    clock = FakeClock()
    pacer = RealTimePacer(0.0, clock, clock.sleep)
    for step in range(100):
        pacer.wait(step * 0.01)
    assert clock.slept == []


def test_pacer_reanchors_after_a_stall_instead_of_racing():
    clock = FakeClock()
    pacer = RealTimePacer(1.0, clock, clock.sleep)
    pacer.wait(0.0)
    clock.now += 5.0  # stalled for 5 s of wall time
    pacer.wait(0.01)
    pacer.wait(0.02)
    assert clock.slept == [pytest.approx(0.01)]


def test_pacer_rejects_negative_factors():
    with pytest.raises(ValueError, match='real-time factor must be >= 0'):
        RealTimePacer(-1.0)
