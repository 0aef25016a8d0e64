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
The policy server's pieces that need no cluster: wire format, settings, config, slot groups.

The shipped config/serve.yaml is checked with Ray Serve's own schema, so ``serve run`` and
``serve deploy`` accept it; every malformed request gets a one-line error naming the problem.
"""

from adapter_switcher.core import InvalidAdapterName
from adapter_switcher.serve.batch_runner import Row
from adapter_switcher.serve.batch_runner import slot_groups
from adapter_switcher.serve.client import PolicyClient
from adapter_switcher.serve.client import ServeError
from adapter_switcher.serve.local import ServeConfig
from adapter_switcher.serve.settings import ServerSettings
from adapter_switcher.serve.wire import act_body
from adapter_switcher.serve.wire import parse_act
from adapter_switcher.serve.wire import parse_output
from adapter_switcher.serve.wire import WireError
import pytest
import torch


def test_adapter_refs_with_and_without_version():
    assert parse_act({'inputs': [[0.5]], 'adapter': 'navigation'}).adapter == 'navigation'
    assert parse_act({'inputs': [[0.5]]}, 'navigation@1.2.0').adapter == 'navigation@1.2.0'
    for bad, message in (('../navigation', 'path separators'), ('navigation@', 'version'),
                         ('navigation@../../etc', 'invalid adapter version')):
        with pytest.raises(InvalidAdapterName, match=message):
            parse_act({'inputs': [[0.5]], 'adapter': bad})
    with pytest.raises(WireError, match='must be a string or null'):
        parse_act({'inputs': [[0.5]], 'adapter': 3})


def test_act_round_trip_is_exact_for_float32():
    inputs = torch.randn(3, 46, generator=torch.Generator().manual_seed(0))
    body = act_body(inputs, 'navigation')
    request = parse_act(body)
    assert torch.equal(request.inputs, inputs)
    assert request.adapter == 'navigation'
    assert torch.equal(parse_output({'output': inputs.tolist(), 'dtype': 'float32'}), inputs)


@pytest.mark.parametrize('body, header, message', [
    ([1, 2], '', 'must be a JSON object'),
    ({'adapter': 'a'}, '', 'missing "inputs"'),
    ({'inputs': [[1.0], [1.0, 2.0]]}, '', 'rectangular'),
    ({'inputs': []}, '', 'at least one row'),
    ({'inputs': [[1.0]], 'dtype': 'float16'}, '', "dtype 'float16'"),
    ({'inputs': [[1.0]], 'extra': 1}, '', "unknown field\\(s\\) \\['extra'\\]"),
    ({'inputs': [[1.0]], 'adapter': 'a'}, 'b', 'in the serve_multiplexed_model_id header'),
])
def test_malformed_requests_are_refused_with_the_reason(body, header, message):
    with pytest.raises(WireError, match=message):
        parse_act(body, header)


def test_header_only_request_uses_the_header_adapter():
    assert parse_act({'inputs': [[0.5]]}, 'hazard').adapter == 'hazard'
    assert parse_act({'inputs': [[0.5]]}).adapter is None


def test_shipped_serve_config_passes_serve_schema_and_settings():
    config = ServeConfig.from_file('config/serve.yaml')
    assert config.host == '127.0.0.1'
    settings = ServerSettings.from_args(config.args)
    assert settings.num_slots >= 2 and settings.host_cache_mb > 0
    assert config.deployment_options['user_config']['max_batch_size'] > 1
    # Access logs are off for the proxy (Serve's components) and for the replica.
    assert config.logging_config['enable_access_log'] is False
    assert config.deployment_options['logging_config']['enable_access_log'] is False


@pytest.mark.parametrize('args, message', [
    ({'num_slot': 4}, "unknown server argument\\(s\\) \\['num_slot'\\]"),
    ({'num_slots': 1}, 'num_slots must be >= 2'),
    ({'num_slots': '4'}, 'num_slots must be a non-negative integer'),
    ({'adapters_dirs': 'models'}, 'adapters_dirs must be a list'),
])
def test_bad_server_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        ServerSettings.from_args(args)


def test_bad_config_file_is_named(tmp_path):
    path = tmp_path / 'serve.yaml'
    path.write_text('applications: [{name: x, import_path: 3}]\n')
    with pytest.raises(ValueError, match='serve.yaml'):
        ServeConfig.from_file(str(path))


def test_slot_groups_keep_order_and_fit_the_budget():
    names = ['a', 'b', None, 'a', 'c', 'd', 'b', None, 'e']
    rows = [Row(torch.zeros(1, 1), n) for n in names]
    groups = list(slot_groups(rows, budget=3))
    assert [r.adapter for g in groups for r in g] == names
    for group in groups:
        assert len({r.adapter for r in group} - {None}) <= 3
    assert [len(g) for g in groups] == [5, 4]


def test_client_reports_an_unreachable_server_in_one_line():
    with pytest.raises(ValueError, match='must start with http'):
        PolicyClient('localhost:1')
    client = PolicyClient('http://127.0.0.1:9/policy', timeout_s=0.5)
    with pytest.raises(ServeError, match='unreachable'):
        client.act(torch.zeros(1, 46), 'navigation')
