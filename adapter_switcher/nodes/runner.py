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
The ``main()`` of every node: init, spin, clean shutdown on Ctrl-C, one exit code.

The shape of ros2/demos ``demo_nodes_py``, written once: a node whose configuration is wrong
(a missing rules file, an unknown override adapter) raises :class:`StartupError`, which is logged
as one clear line and exits with status 1 instead of a traceback. A managed node
(:class:`adapter_switcher.nodes.managed_node.ManagedNode`) walks itself to active before spinning
when its ``autostart`` parameter says so, and is taken through shutdown at the end.
"""

import signal
import threading
from typing import Callable, Optional

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor


class StartupError(RuntimeError):
    """The node cannot start with its parameters; the message says which one and why."""


def run_node(name: str, factory: Callable, args=None,
             executor_factory: Callable = SingleThreadedExecutor,
             on_shutdown: Optional[Callable] = None) -> int:
    """Create the node with ``factory()``, spin it until shutdown, then clean up; return a code."""
    rclpy.init(args=args)
    node = None
    executor = None
    code = 0
    try:
        node = factory()
        if hasattr(node, 'start_up'):
            node.start_up()
        executor = executor_factory()
        executor.add_node(node)
        executor.spin()
        # A node whose own thread failed shuts the context down and names the failure.
        code = 1 if getattr(node, 'failure', None) else 0
    except (KeyboardInterrupt, ExternalShutdownException):
        code = 1 if getattr(node, 'failure', None) else 0
    except StartupError as error:
        rclpy.logging.get_logger(name).fatal(f'cannot start: {error}')
        code = 1
    finally:
        _ignore_further_interrupts()
        if executor is not None:
            executor.shutdown()
        if node is not None:
            if hasattr(node, 'finalize'):
                node.finalize()
            if on_shutdown is not None:
                on_shutdown(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return code


def _ignore_further_interrupts() -> None:
    """
    Let the clean-up finish when a second SIGINT arrives.

    Ctrl-C in a terminal reaches every process of the foreground group, and ``ros2 launch``
    forwards its own SIGINT too, so a node usually gets two: the first stops the executor, the
    second would raise KeyboardInterrupt in the middle of destroying the node. ``ros2 launch``
    and ``adapter-switcher bringup`` still escalate to SIGTERM/SIGKILL if clean-up hangs.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
