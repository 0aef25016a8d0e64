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

"""What operators read: service messages, swap statistics, diagnostics values, sensor staleness."""

from types import SimpleNamespace

from adapter_switcher.core import AdapterInfo
from adapter_switcher.core import ScanReport
from adapter_switcher.core import SwapReport
from adapter_switcher.nodes.adapter_report import describe_swap
from adapter_switcher.nodes.adapter_report import list_adapters_message
from adapter_switcher.nodes.adapter_report import scan_message
from adapter_switcher.nodes.adapter_report import SwapStats
from adapter_switcher.nodes.adapter_report import tier_lists
from adapter_switcher.nodes.diagnostics import format_value
from adapter_switcher.nodes.diagnostics import make_array
from adapter_switcher.nodes.diagnostics import make_status
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.diagnostics import WARN
from adapter_switcher.nodes.sensor_inputs import stale_sensors

from diagnostic_msgs.msg import DiagnosticStatus
import pytest

INFOS = [
    AdapterInfo('navigation', '1', 8, ['demo'], 'active', False),
    AdapterInfo('hazard', '2', 8, [], 'resident', True),
    AdapterInfo('docking', '', 4, [], 'host', False),
    AdapterInfo('narrow_aisle', '1', 8, ['demo', 'aisle'], 'disk', False),
]


def test_list_adapters_gives_one_line_per_adapter_then_the_rejections():
    message = list_adapters_message(INFOS, {'broken': 'adapter_model.safetensors is missing'})
    assert message.splitlines() == [
        'docking [host] rank 4',
        'hazard [resident, pinned] v2 rank 8',
        'narrow_aisle [disk] v1 rank 8 tags demo,aisle',
        'navigation [active] v1 rank 8 tags demo',
        'broken [rejected] adapter_model.safetensors is missing',
    ]
    assert list_adapters_message([], {}) == 'no adapters found'


def test_scan_message_names_what_changed_and_why_rejected():
    report = ScanReport(accepted=['b', 'a'], rejected={'c': 'rank 64 > max_rank 16'},
                        added=['b'], removed=['old'])
    assert scan_message(report) == ('2 accepted (a, b); added b; removed old; '
                                    'rejected c: rank 64 > max_rank 16')


def test_tier_lists_count_the_active_adapter_as_resident():
    assert tier_lists(INFOS) == {'resident': 'hazard,navigation', 'host': 'docking',
                                 'disk': 'narrow_aisle'}


def test_swap_stats_percentiles_and_hit_rate():
    stats = SwapStats()
    assert stats.summary()['swaps'] == 0
    for ms, cold in ((1.0, False), (2.0, False), (3.0, False), (40.0, True)):
        stats.record(SwapReport('a', 'b', ms / 1e3, cold))
    stats.record(SwapReport('b', 'b', 0.0, False))  # no-op: same adapter
    summary = stats.summary()
    assert summary['swaps'] == 4 and summary['cold_swaps'] == 1
    assert summary['prefetch_hit_rate'] == pytest.approx(0.75)
    assert summary['swap_ms_p50'] == pytest.approx(2.5)
    assert 3.0 < summary['swap_ms_p99'] <= 40.0


def test_describe_swap_names_the_base_model_and_scales_the_unit():
    assert describe_swap(SwapReport(None, 'hazard', 0.0032, True)) == (
        '<base> -> hazard in 3.2 ms (loaded on demand)')
    assert describe_swap(SwapReport('hazard', 'navigation', 12e-6, False)) == (
        'hazard -> navigation in 12 us (already resident)')


def test_diagnostics_values_are_formatted_once():
    status = make_status('n: adapters', WARN, 'msg', {'f': 0.123456, 'b': True, 'l': ['a', 'b'],
                                                      'none': None, 'i': 3})
    assert status.level == DiagnosticStatus.WARN and status.name == 'n: adapters'
    assert status_values(status) == {'f': '0.1235', 'b': 'true', 'l': 'a,b', 'none': '',
                                     'i': '3'}
    assert format_value(float('nan')) == 'nan'
    stamp = SimpleNamespace(sec=1, nanosec=2)
    array = make_array(stamp, status)
    assert array.status == [status]


def test_stale_sensors_reports_silent_and_never_seen_sensors():
    seen = {'scan': 10.0, 'odom': 9.0}
    assert stale_sensors(('scan', 'odom', 'camera'), seen, 10.2, 0.5) == {
        'odom': pytest.approx(1.2), 'camera': None}
    assert stale_sensors(('scan',), seen, 9.0, 0.5) == {}  # clock jumped back: fresh
