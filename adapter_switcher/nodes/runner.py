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
The ``main()`` of every node: init, spin, clean shutdown on Ctrl-C or SIGTERM, one exit code.

The shape of ros2/demos ``demo_nodes_py``, written once: a node whose configuration is wrong
(a missing rules file, an unknown override adapter) raises :class:`StartupError`, which is logged
as one clear line and exits with status 1 instead of a traceback. A managed node
(:class:`adapter_switcher.nodes.managed_node.ManagedNode`) walks itself to active before spinning
when its ``autostart`` parameter says so, and is taken through shutdown at the end.

Signals are ours, not rclpy's (``SignalHandlerOptions.NO``). rclpy's handlers shut the context
down at the first SIGINT/SIGTERM, from a thread of their own: by the time the node's shutdown
ran, it could no longer publish the zero velocity that stops the robot, and a shutdown
transition already under way was cut off half-way ("Failed to complete transition 7, current
state is finalized"). Here both signals raise KeyboardInterrupt in the main thread; the node
then goes through its shutdown transition (a driving node publishes zero once) while the
context is still valid, and only then is the context shut down.
"""

import signal
import threading
from typing import Callable, Optional

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

# With rclpy's signal handlers off, nothing wakes an idle wait when a signal arrives: the spin
# returns to Python at least this often so that the signal's KeyboardInterrupt is raised.
SIGNAL_CHECK_PERIOD_S = 0.1


class StartupError(RuntimeError):
    """The node cannot start with its parameters; the message says which one and why."""


def run_node(name: str, factory: Callable, args=None,
             executor_factory: Callable = SingleThreadedExecutor,
             on_shutdown: Optional[Callable] = None) -> int:
    """Create the node with ``factory()``, spin it until shutdown, then clean up; return a code."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    _interrupt_on_signals()
    node = None
    executor = None
    code = 0
    try:
        node = factory()
        if hasattr(node, 'start_up'):
            node.start_up()
        executor = executor_factory()
        executor.add_node(node)
        while node.context.ok():
            executor.spin_once(timeout_sec=SIGNAL_CHECK_PERIOD_S)
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


def _interrupt_on_signals() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt in the main thread: one shutdown path."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _ignore_further_interrupts() -> None:
    """
    Let the clean-up finish when a second SIGINT or a SIGTERM arrives.

    Ctrl-C in a terminal reaches every process of the foreground group, and ``ros2 launch``
    forwards its own SIGINT too, so a node usually gets two: the first stops the executor, the
    second would raise KeyboardInterrupt in the middle of the shutdown transition. ``ros2
    launch`` and ``adapter-switcher bringup`` still end a clean-up that hangs with SIGKILL.
    """
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
