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

"""The detour memory: an offset held over the metres driven, then faded; replaced at once."""

from adapter_switcher.offset_hold import HoldParams
from adapter_switcher.offset_hold import OffsetHold

import pytest

PARAMS = HoldParams(hold=3.0, fade=2.0, reverse=0.3)


def along(hold, offsets, step=0.5, start=0.0):
    """Feed one offset per ``step`` metres driven along x; return what the hold drives."""
    return [hold(offset, (start + i * step, 0.0, 0.0)) for i, offset in enumerate(offsets)]


def test_an_offset_is_held_for_the_hold_distance_then_fades_to_zero():
    driven = along(OffsetHold(PARAMS), [-0.8] + [0.0] * 12)
    # 0, 0.5, ... 6 m: full until 3 m, then 0.4 m less per metre, zero from 5 m.
    assert driven[:7] == [-0.8] * 7
    assert driven[7:11] == pytest.approx([-0.6, -0.4, -0.2, 0.0])
    assert driven[11:] == [0.0, 0.0]


def test_a_larger_offset_or_one_to_the_other_side_replaces_the_held_one():
    hold = OffsetHold(PARAMS)
    assert along(hold, [0.4, 0.2, 0.7, 0.5]) == [0.4, 0.4, 0.7, 0.7]
    # A small answer the other way is noise and keeps the detour; a clear one is a new spill.
    assert along(hold, [-0.1, -0.5, -0.2], start=2.0) == [0.7, -0.5, -0.5]


def test_a_robot_that_stands_keeps_its_offset_and_reset_forgets_it():
    hold = OffsetHold(PARAMS)
    assert [hold(offset, (1.0, 1.0, 0.0)) for offset in (0.8, 0.0, 0.0, 0.0)] == [0.8] * 4
    hold.reset()
    assert hold(0.0, (50.0, 0.0, 0.0)) == 0.0


@pytest.mark.parametrize('fields', [{'fade': 0.0}, {'hold': -1.0}, {'reverse': float('nan')}])
def test_bad_hold_parameters_are_refused_with_their_values(fields):
    with pytest.raises(ValueError, match='offset hold needs hold >= 0, fade > 0'):
        HoldParams(**fields)
