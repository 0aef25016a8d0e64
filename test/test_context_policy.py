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

"""Context policy: escalation at once, de-escalation after the dwell, no flapping, fallbacks."""

import math

from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.predictor import NextAdapterPredictor
from adapter_switcher.context.rules import load_rules
from adapter_switcher.context.scenarios import SpillScenario
import pytest
from test_context_rules import changed

RATE_HZ = 100.0
HAZARD_DWELL_S = 2.0
NARROW_DWELL_S = 1.0


def snapshot(stamp, spill=0.0, aisle=3.0):
    """Return a snapshot with the given spill fraction and aisle width."""
    return FeatureSnapshot(stamp, {'spill_fraction': spill, 'aisle_width': aisle,
                                   'speed': 0.5})


def run(policy, spills, start=0.0, aisle=3.0):
    """Feed one snapshot per spill value at RATE_HZ; return the decisions."""
    return [policy.update(snapshot(start + i / RATE_HZ, spill, aisle))
            for i, spill in enumerate(spills)]


def switch_stamps(decisions):
    return [d.stamp for d in decisions if d.changed]


def test_escalation_happens_on_the_very_next_snapshot():
    policy = ContextPolicy(load_rules(changed()))
    before = run(policy, [0.0] * 100)
    decision = policy.update(snapshot(1.0, spill=0.03))
    assert {d.desired for d in before} == {'navigation'}
    assert (decision.desired, decision.changed) == ('hazard', True)
    assert decision.reason == 'hazard: enter spill_fraction 0.03 > 0.02'


def test_escalation_does_not_wait_for_the_current_dwell():
    policy = ContextPolicy(load_rules(changed()))
    assert policy.update(snapshot(0.0, aisle=1.0)).desired == 'narrow_aisle'
    decision = policy.update(snapshot(0.01, spill=0.03, aisle=1.0))
    assert (decision.desired, decision.changed) == ('hazard', True)


def test_deescalation_waits_for_the_dwell():
    policy = ContextPolicy(load_rules(changed()))
    decisions = run(policy, [0.03] + [0.0] * 300)
    assert switch_stamps(decisions) == [0.0, HAZARD_DWELL_S]
    holding = decisions[100]
    assert holding.desired == 'hazard'
    assert holding.reason.startswith('hazard: stays for min_dwell_s 2 s (held 1 s)')
    leaving = decisions[200]
    assert (leaving.desired, leaving.changed) == ('navigation', True)
    assert leaving.reason == 'hazard: exit spill_fraction 0 < 0.005 -> navigation'


@pytest.mark.parametrize('clock_ran_s', [0.0, 14.5, 144.35, 1000.05])
def test_the_dwell_ends_on_the_same_tick_however_long_the_clock_ran(clock_ran_s):
    # Stamps are float seconds of a nanosecond clock (as the simulator and ROS give them):
    # the tick the adapter leaves on must not depend on when the episode started.
    policy = ContextPolicy(load_rules(changed()))
    stamps = [(round(clock_ran_s * 1e9) + i * 10_000_000) * 1e-9 for i in range(400)]
    decisions = [policy.update(snapshot(stamp, 0.03 if i == 0 else 0.0))
                 for i, stamp in enumerate(stamps)]
    assert [i for i, d in enumerate(decisions) if d.changed] == [0, HAZARD_DWELL_S * RATE_HZ]


def test_the_dwell_counts_from_the_last_time_the_enter_condition_held():
    policy = ContextPolicy(load_rules(changed()))
    decisions = run(policy, [0.03] * 150 + [0.0] * 400)
    assert switch_stamps(decisions) == pytest.approx([0.0, 1.49 + HAZARD_DWELL_S])


@pytest.mark.parametrize('start_spill, expected', [(0.0, 'navigation'), (0.03, 'hazard')])
def test_inside_the_hysteresis_band_nothing_changes(start_spill, expected):
    policy = ContextPolicy(load_rules(changed()))
    decisions = run(policy, [start_spill] + [0.01] * 1000)
    assert {d.desired for d in decisions} == {expected}


def square(low, high):
    return lambda i, t: high if i % 2 else low


def sine(mean, amplitude, hertz):
    return lambda i, t: mean + amplitude * math.sin(2.0 * math.pi * hertz * t)


FLAPPING = {
    # name: (spill at snapshot i / time t, spill before it starts, switches expected in 10 s)
    'around the enter threshold': (square(0.019, 0.021), 0.0, 1),
    'across both thresholds': (square(0.0, 0.03), 0.0, 1),
    'around the exit threshold': (square(0.004, 0.006), 0.03, 2),
    'sine across both at 1 Hz': (sine(0.015, 0.015, 1.0), 0.0, 1),
    'sine across both at 13 Hz': (sine(0.015, 0.015, 13.0), 0.0, 1),
}


@pytest.mark.parametrize('wave, before, expected', FLAPPING.values(), ids=FLAPPING.keys())
def test_a_feature_oscillating_at_100_hz_for_10_s_switches_at_most_once_per_dwell(
        wave, before, expected):
    policy = ContextPolicy(load_rules(changed()))
    decisions = [policy.update(snapshot(0.0, before))]
    decisions += [policy.update(snapshot(i / RATE_HZ, wave(i, i / RATE_HZ)))
                  for i in range(1, int(10 * RATE_HZ) + 1)]
    stamps = switch_stamps(decisions)
    assert len(stamps) == expected, stamps
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    assert all(gap >= HAZARD_DWELL_S for gap in gaps), gaps


def test_leaving_goes_to_a_lower_rule_that_holds_rather_than_the_fallback():
    policy = ContextPolicy(load_rules(changed()))
    desired = [d.desired for d in run(policy, [0.0] + [0.03] + [0.0] * 300, aisle=1.0)]
    assert desired[:3] == ['narrow_aisle', 'hazard', 'hazard']
    assert desired[-1] == 'narrow_aisle' and 'navigation' not in desired


@pytest.mark.parametrize('narrow_until, expected', [
    (1.6, [(0.0, 'hazard'), (HAZARD_DWELL_S, 'narrow_aisle'),
           (1.6 + NARROW_DWELL_S, 'navigation')]),
    (0.5, [(0.0, 'hazard'), (HAZARD_DWELL_S, 'navigation')]),
])
def test_a_lower_situation_seen_under_a_higher_one_is_still_served_its_dwell(narrow_until,
                                                                             expected):
    # A narrow aisle comes into view while the hazard adapter runs, and is out of view when the
    # hazard leaves: the narrow-aisle adapter takes over for what is left of its own dwell,
    # counted from when it was last seen; once that has run out, the fallback is entered.
    policy = ContextPolicy(load_rules(changed()))
    decisions = []
    for i in range(400):
        stamp = i / RATE_HZ
        narrow = 0.3 <= stamp <= narrow_until + 1e-9
        decisions.append(policy.update(snapshot(stamp, spill=0.03 if i == 0 else 0.0,
                                                aisle=1.0 if narrow else 3.0)))
    switches = [(d.stamp, d.desired) for d in decisions if d.changed]
    assert [name for _, name in switches] == [name for _, name in expected]
    assert [stamp for stamp, _ in switches] == pytest.approx([stamp for stamp, _ in expected],
                                                             abs=1.5 / RATE_HZ)


@pytest.mark.parametrize('spill_after_entry, expected', [
    # The spill is gone: the narrow aisle takes over at once, the hazard's dwell cut short.
    (0.0, [(0.0, 'hazard'), (0.5, 'narrow_aisle')]),
    # Inside the hysteresis band no exit holds: the hazard adapter keeps its dwell.
    (0.01, [(0.0, 'hazard')]),
])
def test_a_dwell_yields_to_a_listed_lower_rule_once_an_exit_holds(spill_after_entry, expected):
    # hazard.yields_to lists narrow_aisle: a narrow aisle entered while only the dwell keeps the
    # hazard adapter takes over on that snapshot; without the list it waits the dwell out.
    policy = ContextPolicy(load_rules(changed(('adapters.hazard.yields_to', ['narrow_aisle']))))
    plain = ContextPolicy(load_rules(changed()))
    switches = {id(policy): [], id(plain): []}
    for i in range(150):
        stamp = i / RATE_HZ
        spill = 0.03 if i == 0 else spill_after_entry
        aisle = 1.0 if stamp >= 0.5 - 1e-9 else 3.0
        for each in (policy, plain):
            decision = each.update(snapshot(stamp, spill, aisle))
            if decision.changed:
                switches[id(each)].append((round(decision.stamp, 6), decision.desired,
                                           decision.reason))
    assert [switch[:2] for switch in switches[id(policy)]] == expected
    assert [switch[:2] for switch in switches[id(plain)]] == [(0.0, 'hazard')]
    for _, _, reason in switches[id(policy)][1:]:
        assert reason.startswith('hazard: exit spill_fraction 0 < 0.005, its dwell yields to '
                                 'narrow_aisle: enter aisle_width 1 < 1.2'), reason


def test_the_prediction_names_the_lower_situation_the_current_one_will_leave_for():
    policy = ContextPolicy(load_rules(changed()))
    policy.update(snapshot(0.0, spill=0.03))
    for i in range(1, 50):   # a narrow aisle in view under the hazard adapter, then gone
        policy.update(snapshot(i / RATE_HZ, spill=0.03, aisle=1.0 if i < 40 else 3.0))
    decisions = [policy.update(snapshot(0.5 + i / RATE_HZ, spill=0.019 - 0.0002 * i))
                 for i in range(40)]   # the spill fades through the hysteresis band
    assert {d.desired for d in decisions} == {'hazard'}
    assert decisions[-1].predicted == 'narrow_aisle'
    assert 'hazard may leave for narrow_aisle' in decisions[-1].prediction_reason


def test_a_fallback_is_entered_even_if_its_own_rule_does_not_hold():
    policy = ContextPolicy(load_rules(changed(('adapters.hazard.fallback', 'narrow_aisle'))))
    decisions = run(policy, [0.03] + [0.0] * 400)
    assert [d.desired for d in decisions if d.changed] == ['hazard', 'narrow_aisle', 'navigation']
    assert switch_stamps(decisions) == pytest.approx(
        [0.0, HAZARD_DWELL_S, HAZARD_DWELL_S + NARROW_DWELL_S])


def test_missing_features_neither_enter_nor_leave():
    policy = ContextPolicy(load_rules(changed()))
    policy.update(snapshot(0.0, spill=0.03))
    blind = [policy.update(FeatureSnapshot(i / 10.0, {'speed': 0.5})) for i in range(1, 100)]
    assert {d.desired for d in blind} == {'hazard'}
    assert 'spill_fraction missing (needs < 0.005)' in blind[-1].reason


def test_time_going_backwards_restarts_the_dwell():
    policy = ContextPolicy(load_rules(changed()))
    policy.update(snapshot(100.0, spill=0.03))
    decisions = run(policy, [0.0] * 300, start=0.0)
    assert switch_stamps(decisions) == [HAZARD_DWELL_S]
    assert policy.stats()['clock_jumps'] == 1


def test_the_same_snapshots_give_the_same_decisions():
    scenario = SpillScenario(episodes=2, rate_hz=50.0, noise=0.002, seed=3)
    runs = []
    for _ in range(2):
        policy = ContextPolicy(load_rules(changed()))
        runs.append([policy.update(s) for s in scenario])
    assert len(runs[0]) == len(scenario) and runs[0] == runs[1]


def test_stats_count_switches_and_how_well_they_were_predicted():
    policy = ContextPolicy(load_rules(changed()))
    for s in SpillScenario(episodes=3, rate_hz=RATE_HZ):
        policy.update(s)
    stats = policy.stats()
    assert (stats['switches'], stats['escalations'], stats['deescalations']) == (6, 3, 3)
    assert (stats['switches_predicted'], stats['switches_unpredicted']) == (6, 0)
    assert stats['min_prediction_lead_s'] >= 0.2
    assert stats['predictions'] > 0 and stats['dwell_holds'] > 0
    assert stats['predictions_from_hint'] > 0 and stats['predictions_from_learned'] > 0


def test_switches_teach_the_transition_model():
    policy = ContextPolicy(load_rules(changed()))
    run(policy, [0.03] + [0.0] * 300)
    transitions = policy.predictor.transitions
    assert transitions.probabilities('navigation') == {'hazard': 1.0}
    assert transitions.probabilities('hazard') == {'navigation': 1.0}


def test_reset_goes_back_to_the_default():
    policy = ContextPolicy(load_rules(changed()))
    policy.update(snapshot(0.0, spill=0.03))
    policy.reset(stamp=5.0)
    assert policy.current == 'navigation'
    assert policy.update(snapshot(5.0, spill=0.01)).desired == 'navigation'


def test_misuse_is_refused():
    rules = load_rules(changed())
    with pytest.raises(ValueError, match='built for other rules'):
        ContextPolicy(rules, NextAdapterPredictor(load_rules(changed())))
    with pytest.raises(TypeError, match='expected a FeatureSnapshot'):
        ContextPolicy(rules).update({'spill_fraction': 0.5})
