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

"""Rules files: the shipped one loads and matches the world; every kind of mistake is named."""

import copy
import re
import xml.etree.ElementTree as ElementTree

from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.rules import ABOVE
from adapter_switcher.context.rules import BELOW
from adapter_switcher.context.rules import load_rules
from adapter_switcher.context.rules import RulesError
from adapter_switcher.paths import share_path
import numpy as np
import pytest
import yaml

DELETE = object()


def valid_rules():
    """Return a correct three-adapter rules mapping, for the cases to break."""
    return {
        'default': 'navigation',
        'features': {'hsv_lower': [85, 150, 60], 'hsv_upper': [100, 255, 255]},
        'adapters': {
            'navigation': {'priority': 0},
            'narrow_aisle': {
                'priority': 5,
                'enter': {'aisle_width': {'below': 1.2}},
                'exit': {'aisle_width': {'above': 1.5}},
                'min_dwell_s': 1.0,
            },
            'hazard': {
                'priority': 10,
                'enter': {'spill_fraction': {'above': 0.02}},
                'exit': {'spill_fraction': {'below': 0.005}},
                'min_dwell_s': 2.0,
                'hint': {'spill_fraction': {'approaching': 0.005}},
                'fallback': 'navigation',
            },
        },
    }


def changed(*edits):
    """Return valid_rules() with ``(dotted path, value or DELETE)`` edits applied."""
    data = copy.deepcopy(valid_rules())
    for path, value in edits:
        *parents, key = path.split('.')
        node = data
        for part in parents:
            node = node[part]
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
    return data


def test_a_valid_file_loads_into_rules(tmp_path):
    path = tmp_path / 'rules.yaml'
    path.write_text(yaml.safe_dump(valid_rules(), sort_keys=False))
    rules = load_rules(path, known_adapters=['navigation', 'narrow_aisle', 'hazard', 'docking'])
    assert rules.default == 'navigation' and rules.source == str(path)
    assert [rule.name for rule in rules.ranked] == ['hazard', 'narrow_aisle', 'navigation']
    hazard = rules.adapters['hazard']
    assert (hazard.priority, hazard.min_dwell_s, hazard.fallback) == (10, 2.0, 'navigation')
    assert [(c.feature, c.op, c.threshold) for c in hazard.enter_conditions] == [
        ('spill_fraction', ABOVE, 0.02)]
    assert [(c.feature, c.op, c.threshold) for c in hazard.exit_conditions] == [
        ('spill_fraction', BELOW, 0.005)]
    assert [(h.feature, h.start, h.target) for h in hazard.hints] == [
        ('spill_fraction', 0.005, 0.02)]
    assert rules.features.hsv_lower == (85, 150, 60)
    assert rules.adapters['narrow_aisle'].fallback is None


ERROR_CASES = {
    'unknown adapter': (
        [], 'adapters.narrow_aisle', "unknown adapter 'narrow_aisle' (available: hazard, "),
    'unknown feature': (
        [('adapters.hazard.enter', {'spill_area': {'above': 0.02}})],
        'adapters.hazard.enter.spill_area', "unknown feature 'spill_area' (known: aisle_width"),
    'exit inverted': (
        [('adapters.hazard.exit', {'spill_fraction': {'above': 0.05}})],
        'adapters.hazard.exit.spill_fraction', 'inverted: enter is "above", so exit must be'),
    'exit equal to enter': (
        [('adapters.hazard.exit.spill_fraction.below', 0.02)],
        'adapters.hazard.exit.spill_fraction',
        'exit below 0.02 must be lower than enter above 0.02'),
    'exit beyond enter': (
        [('adapters.narrow_aisle.exit.aisle_width.above', 1.0)],
        'adapters.narrow_aisle.exit.aisle_width',
        'exit above 1 must be higher than enter below 1.2'),
    'bool exit equal to enter': (
        [('adapters.hazard.enter', {'spill_visible': {'is': True}}),
         ('adapters.hazard.exit', {'spill_visible': {'is': True}}),
         ('adapters.hazard.hint', DELETE)],
        'adapters.hazard.exit.spill_visible', 'exit "is true" equals enter'),
    'exit misses an enter feature': (
        [('adapters.hazard.enter.speed', {'above': 0.1})],
        'adapters.hazard.exit', 'no condition on speed, which enter uses'),
    'exit missing': (
        [('adapters.hazard.exit', DELETE)], 'adapters.hazard.exit', 'missing'),
    'non-numeric threshold': (
        [('adapters.hazard.enter.spill_fraction.above', 'high')],
        'adapters.hazard.enter.spill_fraction.above', "must be a number, got 'high'"),
    'bool threshold on a number': (
        [('adapters.hazard.enter.spill_fraction.above', True)],
        'adapters.hazard.enter.spill_fraction.above', 'must be a number, got True'),
    'infinite threshold': (
        [('adapters.hazard.exit.spill_fraction.below', float('-inf'))],
        'adapters.hazard.exit.spill_fraction.below', 'must be finite'),
    'number test on a bool feature': (
        [('adapters.hazard.enter', {'spill_visible': {'above': 0.5}})],
        'adapters.hazard.enter.spill_visible.above', 'spill_visible is a bool'),
    'unknown test': (
        [('adapters.hazard.enter.spill_fraction', {'over': 0.02})],
        'adapters.hazard.enter.spill_fraction.over', 'unknown test for the number'),
    'two tests in one condition': (
        [('adapters.hazard.enter.spill_fraction', {'above': 0.02, 'below': 0.5})],
        'adapters.hazard.enter.spill_fraction', 'expected exactly one test'),
    'negative dwell': (
        [('adapters.hazard.min_dwell_s', -1.0)],
        'adapters.hazard.min_dwell_s', 'must not be negative, got -1'),
    'non-numeric dwell': (
        [('adapters.hazard.min_dwell_s', 'long')],
        'adapters.hazard.min_dwell_s', "must be a number, got 'long'"),
    'fractional priority': (
        [('adapters.hazard.priority', 10.5)],
        'adapters.hazard.priority', 'must be an integer, got 10.5'),
    'bool priority': (
        [('adapters.hazard.priority', True)],
        'adapters.hazard.priority', 'must be an integer, got True'),
    'priority missing': (
        [('adapters.hazard.priority', DELETE)], 'adapters.hazard.priority', 'missing'),
    'duplicate priorities': (
        [('adapters.hazard.priority', 5)],
        'adapters.hazard.priority', '5 is also the priority of narrow_aisle'),
    'priority not above the default': (
        [('adapters.narrow_aisle.priority', -1)],
        'adapters.narrow_aisle.priority', 'not above the default adapter navigation'),
    'fallback cycle': (
        [('adapters.narrow_aisle.fallback', 'hazard'),
         ('adapters.hazard.fallback', 'narrow_aisle')],
        'adapters.narrow_aisle.fallback', 'cycle: narrow_aisle -> hazard -> narrow_aisle'),
    'fallback to itself': (
        [('adapters.hazard.fallback', 'hazard')],
        'adapters.hazard.fallback', 'cycle: hazard -> hazard'),
    'fallback upwards': (
        [('adapters.narrow_aisle.fallback', 'hazard')],
        'adapters.narrow_aisle.fallback', 'leaving must de-escalate'),
    'fallback unknown': (
        [('adapters.hazard.fallback', 'docking')],
        'adapters.hazard.fallback', "'docking' is not one of the adapters"),
    'yields_to not a list': (
        [('adapters.hazard.yields_to', 'narrow_aisle')],
        'adapters.hazard.yields_to', "expected a list of adapter names, got 'narrow_aisle'"),
    'yields_to unknown': (
        [('adapters.hazard.yields_to', ['docking'])],
        'adapters.hazard.yields_to', "'docking' is not another non-default adapter"),
    'yields_to itself': (
        [('adapters.hazard.yields_to', ['hazard'])],
        'adapters.hazard.yields_to', "'hazard' is not another non-default adapter"),
    'yields_to the default': (
        [('adapters.hazard.yields_to', ['navigation'])],
        'adapters.hazard.yields_to', "'navigation' is not another non-default adapter"),
    'yields_to upwards': (
        [('adapters.narrow_aisle.yields_to', ['hazard'])],
        'adapters.narrow_aisle.yields_to', "'hazard' has priority 10, not below 5"),
    'yields_to on the default': (
        [('adapters.navigation.yields_to', ['hazard'])],
        'adapters.navigation.yields_to', 'not allowed on the default adapter'),
    'default missing': (
        [('default', DELETE)], 'default', 'missing: name the adapter used when no rule enters'),
    'default unknown': (
        [('default', 'idle')], 'default', "'idle' is not one of the adapters"),
    'default with conditions': (
        [('adapters.navigation.enter', {'speed': {'above': 0.1}})],
        'adapters.navigation.enter', 'not allowed on the default adapter'),
    'non-default without enter': (
        [('adapters.narrow_aisle.enter', DELETE)],
        'adapters.narrow_aisle.enter', 'missing: only the default adapter may have no enter'),
    'hint on a feature enter does not use': (
        [('adapters.hazard.hint', {'aisle_width': {'approaching': 2.0}})],
        'adapters.hazard.hint.aisle_width', 'enter has none on aisle_width'),
    'hint past the threshold': (
        [('adapters.hazard.hint.spill_fraction.approaching', 0.03)],
        'adapters.hazard.hint.spill_fraction.approaching',
        '0.03 must be below the enter threshold 0.02'),
    'hint without approaching': (
        [('adapters.hazard.hint.spill_fraction', {'near': 0.01})],
        'adapters.hazard.hint.spill_fraction', 'expected {approaching: value}'),
    'unknown adapter field': (
        [('adapters.hazard.dwell', 2.0)], 'adapters.hazard.dwell', 'unknown field'),
    'adapter not a mapping': (
        [('adapters.hazard', 5)], 'adapters.hazard', 'expected a mapping'),
    'unknown top-level key': (
        [('adaptors', {})], 'adaptors', 'unknown key (expected default, features, adapters)'),
    'no adapters': (
        [('adapters', {})], 'adapters', 'missing or empty'),
    'bad feature settings': (
        [('features.hsv_lower', [0, 0])], 'features', 'hsv_lower must be three integers'),
}


@pytest.mark.parametrize('edits, field, message', ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_each_mistake_is_refused_naming_file_field_and_problem(tmp_path, edits, field, message):
    path = tmp_path / 'bad_rules.yaml'
    path.write_text(yaml.safe_dump(changed(*edits), sort_keys=False))
    known = ['navigation', 'hazard'] if field == 'adapters.narrow_aisle' else None
    with pytest.raises(RulesError) as caught:
        load_rules(path, known_adapters=known)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.source, error.field) == (str(path), field)
    assert str(error).startswith(f'{path}: {field}: ')
    assert message in error.problem, error.problem


@pytest.mark.parametrize('text, message', [
    ('default: navigation\nadapters: {navigation: {priority: 0}\n', r'not valid YAML: .*line 3'),
    ('default: navigation\ndefault: hazard\nadapters: {}\n', "found duplicate key 'default'"),
    ('- just\n- a list\n', 'top level: expected a mapping'),
])
def test_unparsable_files_are_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / 'rules.yaml'
    path.write_text(text)
    with pytest.raises(RulesError, match='(?s)' + re.escape(str(path)) + '.*' + message):
        load_rules(path)


def test_a_missing_file_is_a_rules_error(tmp_path):
    with pytest.raises(RulesError, match='cannot read: No such file'):
        load_rules(tmp_path / 'absent.yaml')


def test_a_mapping_source_is_named_as_such():
    with pytest.raises(RulesError, match=r'^<dict>: default: '):
        load_rules(changed(('default', 'idle')))


def test_the_shipped_rules_load_with_the_demo_adapters():
    rules = load_rules(share_path('config/context_rules.yaml'),
                       known_adapters=['navigation', 'hazard', 'narrow_aisle'])
    assert rules.default == 'navigation'
    hazard = rules.adapters['hazard']
    assert hazard.min_dwell_s > 0 and hazard.hints and hazard.fallback == 'navigation'


def _scenario_spill():
    with open(share_path('config/scenario.yaml'), encoding='utf-8') as stream:
        return yaml.safe_load(stream)['spill']


def test_the_shipped_spill_range_is_the_simulation_scenarios():
    features = load_rules(share_path('config/context_rules.yaml')).features
    spill = _scenario_spill()
    assert (features.hsv_lower, features.hsv_upper) == (
        tuple(spill['hsv_lower']), tuple(spill['hsv_upper']))


def _world_colours():
    """Return the spill's RGB colours (0..1) and every other colour of worlds/warehouse.sdf."""
    world = ElementTree.parse(share_path('worlds/warehouse.sdf')).getroot()
    spill = world.find(".//model[@name='spill']")
    spill_colours = [[float(v) for v in spill.find('.//diffuse').text.split()[:3]],
                     _scenario_spill()['rgba'][:3]]
    others = [[float(v) for v in element.text.split()[:3]] for element in world.iter()
              if element.tag in ('diffuse', 'ambient', 'background')
              and element not in list(spill.iter())]
    return spill_colours, others


@pytest.mark.parametrize('shade', [0.3, 0.6, 1.0, 1.2])
def test_the_shipped_spill_colour_matches_the_world_and_nothing_else(shade):
    extractor = FeatureExtractor(load_rules(share_path('config/context_rules.yaml')).features)
    spill_colours, others = _world_colours()
    assert others, 'the world has no other colours to tell the spill from'

    def fraction(colour):
        rgb = np.clip(np.array(colour) * shade * 255.0, 0, 255).astype(np.uint8)
        image = np.broadcast_to(rgb, (4, 4, 3)).copy()
        return extractor.update_image(image, 'rgb8', stamp=0.0)['spill_fraction']

    assert [fraction(colour) for colour in spill_colours] == [1.0, 1.0]
    assert [colour for colour in others if fraction(colour) > 0.0] == []
