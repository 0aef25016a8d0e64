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
The context manager node: sensors in, the adapter the situation needs out.

A thin wrapper over :mod:`adapter_switcher.context`: the sensor callbacks feed a FeatureExtractor,
the ContextPolicy (rules with hysteresis and dwell) decides the desired adapter, and the
NextAdapterPredictor names the adapter likely to be needed next so the inference node can
prefetch it. Both go out on latched std_msgs/String topics, like Nav2's selector topics. The
prediction is published only when its confidence reaches ``min_prediction_confidence`` (an empty
string otherwise), so the confidence decision stays here and the topic stays a plain String.
``handover_ticks`` (dynamic) says how gently the inference node should hand a change over
(:mod:`adapter_switcher.nodes.handover_param`); it goes out on the latched ``handover_ticks``.
A managed node (:class:`ManagedNode`): configure loads the rules, activate starts evaluating.
Light: rclpy's EventsExecutor (no wait set rebuilt in Python for each of the ~75 sensor
messages a second) and raw sensor subscriptions read once per evaluation (:mod:`sensor_inputs`).

``~/reset`` (std_srvs/Trigger) forgets the current decision (back to the default adapter, as at
start-up; the learned transitions stay): a simulator calls it at every episode reset.
"""

import sys

from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.predictor import NextAdapterPredictor
from adapter_switcher.context.predictor import TransitionModel
from adapter_switcher.nodes.diagnostics import make_array
from adapter_switcher.nodes.diagnostics import make_status
from adapter_switcher.nodes.diagnostics import OK
from adapter_switcher.nodes.handover_param import handover_param
from adapter_switcher.nodes.handover_param import MESSAGE as HANDOVER_MESSAGE
from adapter_switcher.nodes.handover_param import TOPIC as HANDOVER_TOPIC
from adapter_switcher.nodes.managed_node import AUTOSTART
from adapter_switcher.nodes.managed_node import ManagedNode
from adapter_switcher.nodes.params import current_values
from adapter_switcher.nodes.params import declare_all
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.nodes.resolve import load_rules_parameter
from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.nodes.runner import run_node
from adapter_switcher.nodes.sensor_inputs import SensorInputs

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.experimental import EventsExecutor
from std_msgs.msg import String
from std_srvs.srv import Trigger

PARAMETERS = (
    AUTOSTART,
    ParamSpec('rules_file', 'config/context_rules.yaml',
              'Context rules YAML (adapters, thresholds, hysteresis, feature settings); a '
              'relative path is relative to the package share directory.', read_only=True),
    ParamSpec('evaluation_rate_hz', 10.0,
              'How often the rules are evaluated; 0 evaluates on every sensor message.',
              read_only=True, value_range=(0.0, 1000.0)),
    ParamSpec('publish_features', True,
              'Publish the features and the decision on ~/features for observability.'),
    ParamSpec('min_prediction_confidence', 0.3,
              'Predictions below this confidence are published as an empty string (no '
              'prefetch).', value_range=(0.0, 1.0)),
    ParamSpec('transitions_file', '',
              'JSON file where the learned adapter transitions persist across runs; empty '
              'keeps them in memory only.', read_only=True),
    ParamSpec('transition_decay', 0.9,
              'Exponential decay of the learned transition counts (closer to 1 = longer '
              'memory).', read_only=True, value_range=(0.0, 1.0)),
    handover_param('published on handover_ticks for the inference node, which uses the '
                   'larger of this and its own'),
)


class ContextManagerNode(ManagedNode):
    """
    Publishes desired_adapter and predicted_adapter from the sensor features.

    A managed node: configure loads the rules and the learned transitions, activate starts the
    evaluation, deactivate stops it, cleanup saves the transitions and releases everything.
    """

    def __init__(self, **kwargs):
        super().__init__('context_manager', **kwargs)
        declare_all(self, PARAMETERS)
        self._transitions = None
        self._handover_pub = None
        self.add_post_set_parameters_callback(self._after_set_parameters)

    def configure_resources(self) -> None:
        params = current_values(self, PARAMETERS)
        self._rules = load_rules_parameter(params['rules_file'])
        transitions_file = params['transitions_file']
        self._transitions = TransitionModel(
            decay=params['transition_decay'],
            path=resolve_path(transitions_file) if transitions_file else None)
        self._policy = ContextPolicy(
            self._rules, NextAdapterPredictor(self._rules, self._transitions))
        keep = self.keep_until_cleanup
        self._desired_pub = keep(self.create_lifecycle_publisher(
            String, 'desired_adapter', LATCHED_QOS))
        self._predicted_pub = keep(self.create_lifecycle_publisher(
            String, 'predicted_adapter', LATCHED_QOS))
        self._features_pub = keep(self.create_lifecycle_publisher(
            DiagnosticArray, '~/features', COMMAND_QOS))
        self._handover_pub = keep(self.create_lifecycle_publisher(
            HANDOVER_MESSAGE, HANDOVER_TOPIC, LATCHED_QOS))
        self._published = {'desired': None, 'predicted': None}
        rate = params['evaluation_rate_hz']
        self._sensors = SensorInputs(
            self, FeatureExtractor(self._rules.features),
            on_update=None if rate > 0 else self._on_sensor_update)
        for subscription in self._sensors.subscriptions:
            keep(subscription)
        keep(self.create_service(Trigger, '~/reset', self._on_reset))
        self.get_logger().info(
            f"rules {resolve_path(params['rules_file'])}: adapters "
            f"{sorted(self._rules.adapters)}, default '{self._rules.default}'; evaluating "
            + (f'at {rate:g} Hz' if rate > 0 else 'on every sensor message'))

    def activate_resources(self) -> None:
        self._published = {'desired': None, 'predicted': None}
        self._publish_handover()
        rate = self.get_parameter('evaluation_rate_hz').value
        if rate > 0:
            self.keep_until_deactivate(self.create_control_timer(1.0 / rate, self.evaluate))

    def release_resources(self) -> None:
        self.save_transitions()
        self._transitions = None

    def _on_sensor_update(self, _sensor: str) -> None:
        if self.is_active:
            self.evaluate()

    def evaluate(self) -> None:
        """Run the policy on the latest features and publish what changed."""
        now = self.get_clock().now()
        stamp = now.nanoseconds * 1e-9
        snapshot = self._sensors.snapshot(stamp)
        decision = self._policy.update(snapshot)
        if decision.changed:
            self.get_logger().info(f"desired adapter '{decision.desired}': {decision.reason}")
        threshold = self.get_parameter('min_prediction_confidence').value
        predicted = decision.predicted if decision.confidence >= threshold else ''
        if predicted == decision.desired:
            predicted = ''
        self._publish_latched('desired', self._desired_pub, decision.desired)
        self._publish_latched('predicted', self._predicted_pub, predicted)
        if self.get_parameter('publish_features').value:
            values = dict(sorted(snapshot.values.items()))
            values.update(desired=decision.desired, predicted=decision.predicted,
                          confidence=float(decision.confidence), reason=decision.reason)
            self._features_pub.publish(make_array(now.to_msg(), make_status(
                f'{self.get_name()}: features', OK, decision.reason, values)))

    def _after_set_parameters(self, parameters) -> None:
        if any(p.name == 'handover_ticks' for p in parameters):
            self._publish_handover()

    def _publish_handover(self) -> None:
        """Publish handover_ticks, latched; only while active (a lifecycle publisher)."""
        if self._handover_pub is not None and self._handover_pub.is_activated:
            self._handover_pub.publish(
                HANDOVER_MESSAGE(data=self.get_parameter('handover_ticks').value))

    def _on_reset(self, _request, response):
        self._policy.reset()
        response.success = True
        response.message = f"back to the default adapter '{self._rules.default}'"
        self.get_logger().info(f'reset: {response.message}')
        return response

    def _publish_latched(self, key: str, publisher, name: str) -> None:
        if self._published[key] != name:
            publisher.publish(String(data=name))
            self._published[key] = name

    def save_transitions(self) -> None:
        """Persist the learned transitions, if a file was configured."""
        if self._transitions is not None and self.get_parameter('transitions_file').value:
            self._transitions.save()


def main(args=None):
    return run_node('context_manager', ContextManagerNode, args, executor_factory=EventsExecutor)


if __name__ == '__main__':
    sys.exit(main())
