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

"""The scripted spill scenario, and the policy predicting every hazard before it enters."""

from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.rules import load_rules
from adapter_switcher.context.scenarios import OPEN_AISLE
from adapter_switcher.context.scenarios import SpillScenario
from adapter_switcher.paths import share_path
import pytest

HINT_REASON = 'hint: hazard may enter'


def shipped_rules():
    return load_rules(share_path('config/context_rules.yaml'))


def test_the_scenario_ramps_the_spill_up_holds_it_and_ramps_it_down():
    scenario = SpillScenario(episodes=2, rate_hz=10.0, navigation_s=1.0, ramp_up_s=0.5,
                             hazard_s=1.0, ramp_down_s=0.5, peak=0.04, start_stamp=100.0)
    snapshots = list(scenario)
    assert len(snapshots) == len(scenario) == 71  # 2 episodes of 3 s, 1 s to close, both ends
    assert [s.stamp for s in snapshots[:3]] == [100.0, 100.1, 100.2]
    assert snapshots[-1].stamp == pytest.approx(107.0)
    spill = [s.values['spill_fraction'] for s in snapshots]
    assert spill[:11] == [0.0] * 11
    assert spill[10:16] == pytest.approx([0.0, 0.008, 0.016, 0.024, 0.032, 0.04])
    assert spill[15:26] == pytest.approx([0.04] * 11)
    assert spill[25:31] == pytest.approx([0.04, 0.032, 0.024, 0.016, 0.008, 0.0])
    assert spill[30:] == pytest.approx(spill[:len(spill) - 30])  # the episode repeats
    assert scenario.ramp_up_starts() == (101.0, 104.0)
    for s in snapshots:
        assert s.values['spill_visible'] == (s.values['spill_fraction'] > 0.001)
        assert {k: s.values[k] for k in OPEN_AISLE} == OPEN_AISLE


def test_noise_is_reproducible_from_the_seed():
    def spills(seed):
        scenario = SpillScenario(episodes=1, noise=0.001, seed=seed)
        return [s.values['spill_fraction'] for s in scenario]
    assert spills(1) == spills(1) != spills(2)
    assert min(spills(1)) >= 0.0


@pytest.mark.parametrize('kwargs, message', [
    ({'episodes': 0}, 'episodes must be a positive integer'),
    ({'rate_hz': 0.0}, 'rate_hz must be positive'),
    ({'ramp_up_s': -1.0}, 'ramp_up_s must not be negative'),
    ({'peak': 0.0}, 'need 0 <= floor < peak <= 1'),
    ({'base': {'spill_fraction': 0.5}}, 'must not set the scripted spill features'),
])
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SpillScenario(**kwargs)


def episodes_of(scenario, decisions):
    """Split the decisions into one list per episode, each from its ramp-up start on."""
    starts = scenario.ramp_up_starts() + (float('inf'),)
    return [[d for d in decisions if begin - scenario.navigation_s / 2 <= d.stamp < end]
            for begin, end in zip(starts, starts[1:])]


@pytest.mark.parametrize('rate_hz', [100.0, 20.0, 10.0])
@pytest.mark.parametrize('ramp_up_s', [1.0, 0.5])
@pytest.mark.parametrize('noise', [0.0, 0.0005])
def test_hazard_is_predicted_before_it_is_desired_in_every_episode(rate_hz, ramp_up_s, noise):
    scenario = SpillScenario(episodes=5, rate_hz=rate_hz, ramp_up_s=ramp_up_s, noise=noise)
    policy = ContextPolicy(shipped_rules())
    decisions = [policy.update(s) for s in scenario]
    episodes = episodes_of(scenario, decisions)
    assert len(episodes) == 5
    for number, episode in enumerate(episodes, 1):
        entry = next(i for i, d in enumerate(episode) if d.desired == 'hazard')
        assert episode[entry].changed, f'episode {number}: hazard was already desired'
        hinted = [d for d in episode[:entry] if d.predicted == 'hazard'
                  and HINT_REASON in d.prediction_reason]
        assert hinted, f'episode {number}: no hint before the switch'
        # The hint zone (0.005 .. 0.02 of a ramp to 0.05) is 30 % of the ramp; sampling and
        # noise move either end by a step or by a few standard deviations over the slope.
        lead_s = episode[entry].stamp - hinted[0].stamp
        slack_s = 1.5 / rate_hz + 4.0 * noise * ramp_up_s / scenario.peak
        assert lead_s >= 0.3 * ramp_up_s - slack_s, f'episode {number}: lead {lead_s}'
        assert episode[entry - 1].predicted == 'hazard'
        assert episode[entry - 1].confidence >= 0.5
        back = next(i for i, d in enumerate(episode[entry:], entry) if d.desired != 'hazard')
        assert episode[back].desired == 'navigation'
        assert episode[back - 1].predicted == 'navigation'
    stats = policy.stats()
    assert (stats['switches'], stats['switches_unpredicted']) == (10, 0)


def test_in_the_first_episode_only_the_ramp_makes_the_prediction():
    scenario = SpillScenario(episodes=1)
    policy = ContextPolicy(shipped_rules())
    decisions = [policy.update(s) for s in scenario]
    quiet = [d for d in decisions if d.stamp < scenario.ramp_up_starts()[0]]
    assert {d.predicted for d in quiet} == {'navigation'}


def test_a_step_without_a_ramp_cannot_be_predicted():
    scenario = SpillScenario(episodes=1, ramp_up_s=0.0)
    policy = ContextPolicy(shipped_rules())
    for s in scenario:
        policy.update(s)
    assert policy.stats()['switches_unpredicted'] >= 1
