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

"""Next-adapter prediction: hints from the rules, learned transitions, and their persistence."""

import json
import logging
import math

from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.predictor import NextAdapterPredictor
from adapter_switcher.context.predictor import TransitionModel
from adapter_switcher.context.rules import load_rules
import pytest
from test_context_rules import changed

RATE_HZ = 100.0
ENTER, HINT_START = 0.02, 0.005


def feed(predictor, current, spills, start=0.0, aisle=3.0, speed=0.5):
    """Predict once per spill value at RATE_HZ; return the last prediction."""
    prediction = None
    for i, spill in enumerate(spills):
        snapshot = FeatureSnapshot(start + i / RATE_HZ, {
            'spill_fraction': spill, 'aisle_width': aisle, 'speed': speed})
        prediction = predictor.predict(current, snapshot)
    return prediction


def steady(value, count=50):
    return [value] * count


def ramp(start, end, count=50):
    return [start + (end - start) * i / (count - 1) for i in range(count)]


def test_a_steady_feature_hints_in_proportion_to_how_close_it_is():
    rules = load_rules(changed())
    confidences = []
    for spill in (0.008, 0.011, 0.014, 0.017, 0.0199):
        name, confidence, reason = feed(NextAdapterPredictor(rules), 'navigation', steady(spill))
        assert name == 'hazard' and reason.startswith('hint: hazard may enter')
        assert confidence == pytest.approx((spill - HINT_START) / (ENTER - HINT_START))
        confidences.append(confidence)
    assert confidences == sorted(confidences)


@pytest.mark.parametrize('spill', [0.0, 0.004, HINT_START])
def test_before_the_hint_threshold_nothing_is_predicted(spill):
    prediction = feed(NextAdapterPredictor(load_rules(changed())), 'navigation', steady(spill))
    assert prediction[:2] == ('navigation', 1.0)


def test_a_rising_feature_is_more_telling_than_a_steady_or_falling_one():
    rules = load_rules(changed())
    at = 0.0125
    rising = feed(NextAdapterPredictor(rules), 'navigation', ramp(0.006, at))
    still = feed(NextAdapterPredictor(rules), 'navigation', steady(at))
    falling = feed(NextAdapterPredictor(rules), 'navigation', ramp(0.019, at))
    assert {rising[0], still[0], falling[0]} == {'hazard'}
    assert 1.0 >= rising[1] > still[1] > falling[1] > 0.0


def test_a_hint_waits_for_the_enter_conditions_it_does_not_cover():
    rules = load_rules(changed(
        ('adapters.hazard.enter.speed', {'above': 0.1}),
        ('adapters.hazard.exit.speed', {'below': 0.05})))
    parked = feed(NextAdapterPredictor(rules), 'navigation', steady(0.015), speed=0.0)
    moving = feed(NextAdapterPredictor(rules), 'navigation', steady(0.015), speed=0.5)
    assert (parked[0], moving[0]) == ('navigation', 'hazard')


def test_a_lower_adapter_is_not_hinted_while_a_higher_one_runs():
    rules = load_rules(changed(
        ('adapters.narrow_aisle.hint', {'aisle_width': {'approaching': 1.6}})))
    assert feed(NextAdapterPredictor(rules), 'navigation', steady(0.0), aisle=1.3)[0] == \
        'narrow_aisle'
    assert feed(NextAdapterPredictor(rules), 'hazard', steady(0.03), aisle=1.3)[0] == 'hazard'


@pytest.mark.parametrize('spill, expected', [(0.0, 'narrow_aisle'), (0.03, 'hazard')])
def test_a_rule_the_current_one_yields_to_is_hinted_once_an_exit_holds(spill, expected):
    # hazard yields its dwell to narrow_aisle: with the spill gone (an exit holds) an aisle
    # narrowing towards the enter threshold is announced; with the spill in view it is not.
    rules = load_rules(changed(
        ('adapters.hazard.yields_to', ['narrow_aisle']),
        ('adapters.narrow_aisle.hint', {'aisle_width': {'approaching': 1.6}})))
    assert feed(NextAdapterPredictor(rules), 'hazard', steady(spill), aisle=1.3)[0] == expected


@pytest.mark.parametrize('aisle, target', [(3.0, 'navigation'), (1.0, 'narrow_aisle')])
def test_a_feature_crossing_the_hysteresis_band_announces_the_way_back(aisle, target):
    name, confidence, reason = feed(NextAdapterPredictor(load_rules(changed())), 'hazard',
                                    ramp(0.03, 0.012), aisle=aisle)
    assert (name, reason.split(':')[0]) == (target, 'hint')
    assert 0.5 < confidence <= 1.0


def trained(*switches, decay=0.9):
    model = TransitionModel(decay=decay)
    for previous, new in switches:
        model.observe(previous, new)
    return model


def test_learned_transitions_predict_when_nothing_hints():
    model = trained(*[('navigation', 'narrow_aisle')] * 3, ('navigation', 'hazard'))
    predictor = NextAdapterPredictor(load_rules(changed()), model)
    name, confidence, reason = feed(predictor, 'navigation', steady(0.0))
    weight = model.weight('navigation')
    probability = model.probabilities('navigation')['narrow_aisle']
    assert (name, reason.split(':')[0]) == ('narrow_aisle', 'learned')
    assert confidence == pytest.approx(probability * weight / (weight + 1.0))


def test_a_hint_beats_the_learned_transitions():
    model = trained(*[('navigation', 'narrow_aisle')] * 10)
    name, _, reason = feed(NextAdapterPredictor(load_rules(changed()), model), 'navigation',
                           steady(0.008))
    assert name == 'hazard' and reason.startswith('hint:')


def test_a_hint_and_the_learned_transitions_agreeing_add_up():
    rules = load_rules(changed())
    hint_only = feed(NextAdapterPredictor(rules), 'navigation', steady(0.008))[1]
    both = feed(NextAdapterPredictor(rules, trained(('navigation', 'hazard'))), 'navigation',
                steady(0.008))
    assert both[0] == 'hazard' and 'learned:' in both[2]
    assert both[1] == pytest.approx(1.0 - (1.0 - hint_only) * (1.0 - 0.5))


def test_time_going_backwards_forgets_the_rate_history():
    rules = load_rules(changed())
    predictor = NextAdapterPredictor(rules)
    feed(predictor, 'navigation', ramp(0.006, 0.0125), start=100.0)
    after_reset = feed(predictor, 'navigation', [0.0125], start=0.0)
    assert after_reset[1] == pytest.approx((0.0125 - HINT_START) / (ENTER - HINT_START))


def test_predictions_are_counted_by_source():
    predictor = NextAdapterPredictor(load_rules(changed()), trained(('hazard', 'navigation')))
    feed(predictor, 'navigation', steady(0.0, 3) + steady(0.01, 2))
    feed(predictor, 'hazard', steady(0.03, 4), start=1.0)
    assert predictor.stats() == {'predictions_from_hint': 2, 'predictions_from_learned': 4,
                                 'predictions_from_hint_and_learned': 0,
                                 'predictions_from_no_change': 3}


def test_predict_refuses_an_adapter_the_rules_do_not_know():
    with pytest.raises(ValueError, match="unknown adapter 'docking'"):
        NextAdapterPredictor(load_rules(changed())).predict('docking', FeatureSnapshot(0.0, {}))


@pytest.mark.parametrize('decay, expected', [
    (0.5, {'b': 0.75, 'c': 1.0}),   # (1 * 0.5 + 1) * 0.5 for the older b
    (1.0, {'b': 2.0, 'c': 1.0}),    # no decay: plain counts
    (0.0, {'c': 1.0}),              # only the last switch counts
])
def test_counts_decay_at_each_switch_out_of_the_same_adapter(decay, expected):
    model = trained(('a', 'b'), ('a', 'b'), ('x', 'y'), ('a', 'c'), decay=decay)
    assert model.counts()['a'] == pytest.approx(expected)
    total = sum(expected.values())
    assert model.weight('a') == pytest.approx(total)
    assert model.probabilities('a') == pytest.approx(
        {name: count / total for name, count in expected.items()})
    assert model.counts()['x'] == {'y': 1.0} and model.probabilities('nowhere') == {}


@pytest.mark.parametrize('previous, new, message', [
    ('a', 'a', "needs two different adapters, got 'a' twice"),
    ('', 'b', 'previous must be an adapter name'),
    ('a', None, 'new must be an adapter name'),
])
def test_observe_refuses_what_is_not_a_switch(previous, new, message):
    with pytest.raises(ValueError, match=message):
        TransitionModel().observe(previous, new)


@pytest.mark.parametrize('decay', [-0.1, 1.5, math.nan])
def test_decay_must_be_a_fraction(decay):
    with pytest.raises(ValueError, match='decay'):
        TransitionModel(decay=decay)


def test_learned_transitions_survive_a_restart(tmp_path):
    path = tmp_path / 'state' / 'transitions.json'
    first = TransitionModel(decay=0.8, path=path)
    first.observe('navigation', 'hazard')
    first.observe('hazard', 'navigation')
    first.observe('navigation', 'hazard')
    assert json.loads(path.read_text())['format'] == 'adapter_switcher.transitions'
    assert sorted(p.name for p in path.parent.iterdir()) == ['transitions.json']
    second = TransitionModel(decay=0.8, path=path)
    assert second.counts() == first.counts() and second.problem is None


def test_a_missing_file_starts_empty_without_complaint(tmp_path, caplog):
    path = tmp_path / 'transitions.json'
    model = TransitionModel(path=path)
    assert model.counts() == {} and model.problem is None and not caplog.records
    assert not path.exists()


@pytest.mark.parametrize('content', [
    'not json at all {',
    '[1, 2, 3]',
    '{"format": "adapter_switcher.transitions", "version": 99, "counts": {}}',
    '{"format": "adapter_switcher.transitions", "version": 1, "counts": []}',
    '{"format": "adapter_switcher.transitions", "version": 1, "counts": {"a": {"b": -1}}}',
    '{"format": "adapter_switcher.transitions", "version": 1, "counts": {"a": {"b": NaN}}}',
    '{"format": "adapter_switcher.transitions", "version": 1, "counts": {"a": {"b": "1"}}}',
    '{"format": "adapter_switcher.transitions", "version": 1, "counts": {"a": 3}}',
])
def test_a_corrupt_file_is_reported_ignored_and_then_replaced(tmp_path, caplog, content):
    path = tmp_path / 'transitions.json'
    path.write_text(content)
    with caplog.at_level(logging.WARNING):
        model = TransitionModel(path=path)
    assert model.counts() == {}
    assert model.problem.startswith(f'ignoring the transitions file {path}: ')
    assert [r.getMessage() for r in caplog.records] == [model.problem]
    model.observe('navigation', 'hazard')
    assert TransitionModel(path=path).counts() == {'navigation': {'hazard': 1.0}}


def test_without_autosave_only_save_writes(tmp_path):
    path = tmp_path / 'transitions.json'
    model = TransitionModel(path=path, autosave=False)
    model.observe('navigation', 'hazard')
    assert not path.exists()
    model.save()
    assert TransitionModel(path=path).probabilities('navigation') == {'hazard': 1.0}


def test_a_failed_autosave_is_reported_not_raised(tmp_path, caplog):
    blocker = tmp_path / 'not_a_directory'
    blocker.write_text('')
    model = TransitionModel(path=blocker / 'transitions.json')
    with caplog.at_level(logging.WARNING):
        model.observe('navigation', 'hazard')
    assert model.probabilities('navigation') == {'hazard': 1.0}
    assert model.problem.startswith('cannot save the transitions file')
    with pytest.raises(OSError):
        model.save()


def test_a_model_without_a_file_cannot_save_or_load():
    with pytest.raises(ValueError, match='no file to save to'):
        TransitionModel().save()
    with pytest.raises(ValueError, match='no file to load from'):
        TransitionModel().load()
