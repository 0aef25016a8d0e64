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
``adapter-switcher adapters promote|rollback --node NODE``: the command through a node's services.

What an operator would type by hand, in one command: set the node's ``fleet_target``
parameter, then call its ``~/promote`` or ``~/demote`` (std_srvs/Trigger), and report the
node's answer. The node applies the decision to the running engine and to its store at once.
"""

from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger


class NodeCallFailed(Exception):
    """The node is not reachable, refused the target, or refused the command; one line why."""


def call_fleet_service(node_name: str, service: str, target: str, timeout_s: float) -> str:
    """Set the node's ``fleet_target``, call its ``service``; return its answer or raise."""
    node_name = node_name if node_name.startswith('/') else '/' + node_name
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        client = rclpy.create_node('adapter_switcher_adapters_cli', context=context,
                                   start_parameter_services=False, enable_rosout=False)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(client)
        request = SetParameters.Request(
            parameters=[Parameter('fleet_target', value=target).to_parameter_msg()])
        result = _call(client, executor, SetParameters, f'{node_name}/set_parameters', request,
                       timeout_s).results[0]
        if not result.successful:
            raise NodeCallFailed(f'{node_name} refused fleet_target {target!r}: {result.reason}')
        response = _call(client, executor, Trigger, f'{node_name}/{service}', Trigger.Request(),
                         timeout_s)
        if not response.success:
            raise NodeCallFailed(f'{node_name}/{service}: {response.message}')
        return response.message
    finally:
        rclpy.try_shutdown(context=context)


def _call(client, executor, kind, name: str, request, timeout_s: float):
    service = client.create_client(kind, name)
    if not service.wait_for_service(timeout_sec=timeout_s):
        raise NodeCallFailed(f'no service {name} within {timeout_s:g} s: is the node running, '
                             'configured with fleet_store_dir, and on this ROS_DOMAIN_ID?')
    future = service.call_async(request)
    executor.spin_until_future_complete(future, timeout_sec=timeout_s)
    if not future.done():
        raise NodeCallFailed(f'{name} did not answer within {timeout_s:g} s')
    return future.result()
