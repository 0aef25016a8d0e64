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
handover_ticks over DDS: the context manager's setting reaches the inference node, which uses it.

Both nodes run as processes fed by synthetic sensors. The context manager's ``handover_ticks``
arrives on the latched ``handover_ticks`` topic; the inference node reports the length it uses
on /diagnostics (the larger of the two nodes' settings) and, at the next context change, runs
that many blended ticks: commands that are neither the old adapter's nor the new one's for the
same sensor data (checked against plain PEFT), before the new adapter's own.
"""

import dataclasses
import math

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.context import load_rules
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.demo.reference import ReferencePolicy
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import Scene
from dds_harness import scene_command
from dds_harness import SyntheticSensors
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
import pytest
from std_msgs.msg import String
from std_msgs.msg import UInt32

pytestmark = pytest.mark.dds

DOMAIN_ID = 14
START_TIMEOUT = 120.0
TIMEOUT = 30.0
CLEAR = Scene()
SPILL = Scene(spill_fraction=0.06)
BLEND = 6


def _close(got, want, atol=1e-3):
    return all(math.isclose(g, w, abs_tol=atol) for g, w in zip(got, want))


def test_context_manager_handover_ticks_reach_the_inference_node_and_blend(tmp_path):
    demo_dir = tmp_path / 'demo'
    make_demo_adapters(demo_dir)
    reference = ReferencePolicy(demo_dir, load_rules(share_path('config/context_rules.yaml'))
                                .features)
    hazard = scene_command(reference, 'hazard', SPILL)
    navigation = [scene_command(reference, 'navigation', scene) for scene in (CLEAR, SPILL)]
    weights = {'model_weights': str(demo_dir / 'base_policy.safetensors'),
               'sensor_timeout_s': 2.0}
    specs = [dataclasses.replace(s, parameters=tuple(s.parameters) + (weights,))
             if s.name == 'inference_node' else s
             for s in robot_node_specs(adapters_dir=demo_dir / 'adapters')]
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        sensors = SyntheticSensors(dds, CLEAR)
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        handover = dds.subscribe(UInt32, '/handover_ticks', LATCHED_QOS)
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)
        for spec in specs:
            dds.start(spec)
        dds.wait_for(lambda: active.last() is not None and active.last().data == 'navigation',
                     START_TIMEOUT, 'navigation active')

        def used_ticks(want):
            diagnostics.clear()

            def found():
                return any(s.name == 'inference_node: adapters'
                           and status_values(s).get('handover_ticks') == str(want)
                           for array in diagnostics.messages() for s in array.status)
            dds.wait_for(found, TIMEOUT, f'inference_node diagnostics handover_ticks={want}')

        used_ticks(0)
        dds.set_parameters('/context_manager', {'handover_ticks': BLEND})
        dds.wait_for(lambda: handover.last() is not None and handover.last().data == BLEND,
                     TIMEOUT, f'handover_ticks {BLEND} published')
        used_ticks(BLEND)

        cmd.clear()
        dds.wait_for(lambda: cmd.last() is not None
                     and any(_close((cmd.last().linear.x, cmd.last().angular.z), n)
                             for n in navigation),
                     TIMEOUT, "navigation's command before the spill")
        sensors.set_scene(SPILL)
        dds.wait_for(lambda: cmd.last() is not None
                     and _close((cmd.last().linear.x, cmd.last().angular.z), hazard),
                     TIMEOUT, f"hazard's command {hazard}")
        seen = [(m.linear.x, m.angular.z) for m in cmd.messages()]
        first_hazard = next(i for i, c in enumerate(seen) if _close(c, hazard))
        last_navigation = max(i for i, c in enumerate(seen[:first_hazard])
                              if any(_close(c, n) for n in navigation))
        blended = seen[last_navigation + 1:first_hazard]
        assert 0 < len(blended) <= BLEND, (blended, navigation, hazard)

        dds.set_parameters('/inference_node', {'handover_ticks': BLEND + 3})
        used_ticks(BLEND + 3)            # the larger of the two settings
        dds.set_parameters('/inference_node', {'handover_ticks': 0})
        used_ticks(BLEND)
        dds.set_parameters('/context_manager', {'handover_ticks': 0})
        used_ticks(0)
