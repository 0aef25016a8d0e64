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

"""Parameter tables: declared with descriptors, all listed in config/adapter_switcher.yaml."""

from adapter_switcher.nodes import context_manager_node
from adapter_switcher.nodes import inference_node
from adapter_switcher.nodes.params import defaults
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.paths import share_path

import pytest
import yaml

NODES = {
    '/**/context_manager': context_manager_node.PARAMETERS,
    '/**/inference_node': inference_node.PARAMETERS,
}


@pytest.fixture(scope='module')
def params_file():
    return yaml.safe_load(share_path('config/adapter_switcher.yaml').read_text())


@pytest.mark.parametrize('key', sorted(NODES))
def test_params_file_lists_every_parameter_with_its_default(params_file, key):
    listed = dict(params_file[key]['ros__parameters'])
    assert listed.pop('use_sim_time') is False
    assert listed == defaults(NODES[key])


def test_params_file_has_no_other_nodes(params_file):
    assert set(params_file) == set(NODES)


@pytest.mark.parametrize('spec', [s for table in NODES.values() for s in table],
                         ids=lambda s: s.name)
def test_every_parameter_has_a_description_and_a_typed_default(spec):
    assert len(spec.description) > 20
    assert spec.default is not None
    assert not (isinstance(spec.default, list) and not spec.default)  # [] has no type


def test_descriptor_carries_ranges_by_type():
    integer = ParamSpec('n', 4, 'an integer parameter', read_only=True, value_range=(1, 8))
    descriptor = integer.descriptor()
    assert descriptor.read_only and descriptor.description == 'an integer parameter'
    assert (descriptor.integer_range[0].from_value, descriptor.integer_range[0].to_value) == (
        1, 8)
    assert not descriptor.floating_point_range
    real = ParamSpec('x', 0.5, 'a float parameter', value_range=(0.0, 1.0))
    assert real.descriptor().floating_point_range[0].to_value == 1.0
    assert not real.descriptor().read_only
