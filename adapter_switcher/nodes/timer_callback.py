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
Timer callbacks that rclpy's EventsExecutor calls without inspecting them every time.

rclpy passes a ``TimerInfo`` to a timer callback whose signature asks for one, and its
EventsExecutor finds out by running ``inspect.signature`` on the callback at every call. For a
bound method that means unwrapping the method, reading the function's code object and building
two Signature objects: measured beside the running stack, a 20 Hz timer on a bound method cost
0.05-0.1 ms more CPU per call than the same timer on an object that declares its signature
(docs/edge.md), about as much as the demo policy's whole forward. A
:class:`NoArgumentCallback` declares its empty signature once; ``inspect.signature`` returns
that as it is, so the executor calls it with no arguments, as it did the method.
"""

import inspect
from typing import Any, Callable


class NoArgumentCallback:
    """Calls ``function()``; a timer callback whose signature (no parameters) is declared."""

    __signature__ = inspect.Signature()
    __slots__ = ('function',)

    def __init__(self, function: Callable[[], Any]):
        self.function = function

    def __call__(self) -> Any:
        return self.function()

    def __repr__(self) -> str:
        return f'NoArgumentCallback({self.function!r})'
