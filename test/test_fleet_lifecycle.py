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
Versions, promotion, canary, shadow and automatic rollback, through the public interfaces.

Real bundles are installed into a real store; the engine runs a real policy network.
"""

import threading
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core import EngineConfig
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.policy import canary_serves_candidate
from adapter_switcher.fleet.policy import parse_policies
from adapter_switcher.fleet.store import VersionStore
from fleet_fixtures import install
from fleet_fixtures import make_fleet
from fleet_fixtures import OBS
from fleet_fixtures import observations
from fleet_fixtures import ReluPolicy
import numpy as np
import pytest
import torch

PERIOD = 0.02


def _outputs(engine, ref, xs):
    engine.activate(ref)
    return [engine.step(x).output.clone() for x in xs]


def test_versions_promotion_rollback_downgrade_and_restart(tmp_path):
    robot, shop, installer, controller = make_fleet(tmp_path)
    engine = robot.engine
    assert 'promoted' in install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    install(installer, controller, shop.bundle('nav', '1.1.0', seed=2))
    install(installer, controller, shop.bundle('nav', '0.9.0', seed=3))
    xs = observations(3)
    old, new = _outputs(engine, 'nav@1.0.0', xs), _outputs(engine, 'nav@1.1.0', xs)
    assert not old[0].equal(new[0])

    assert engine.activate('nav').active == 'nav@1.0.0', 'the plain name is the promoted one'
    controller.promote('nav@1.1.0')
    assert engine.active == 'nav@1.1.0', 'promoting the running name switches at once'
    assert engine.step(xs[0]).output.equal(new[0])
    engine.request('nav')
    assert engine.step(xs[1]).adapter == 'nav@1.1.0'

    assert engine.activate('nav@1.0.0').active == 'nav@1.0.0', 'name@version pins'
    engine.activate('nav')
    assert engine.is_ready('nav@1.0.0'), 'the previous promoted version stays cached'
    message = controller.demote('nav')
    assert 'nav@1.1.0 demoted to nav@1.0.0' in message
    assert engine.active == 'nav@1.0.0' and engine.step(xs[2]).output.equal(old[2])

    with pytest.raises(AdapterError, match='downgrade needs force'):
        controller.promote('nav@0.9.0')
    assert engine.active == 'nav@1.0.0'
    controller.promote('nav@0.9.0', force=True)
    assert engine.active == 'nav@0.9.0'
    with pytest.raises(AdapterError, match='not installed'):
        controller.promote('nav@2.0.0')
    engine.close()

    again = AdapterEngine(ReluPolicy(), [robot.store.root], EngineConfig(),
                          probe_inputs=((torch.zeros(1, OBS),), {}))
    FleetController(again, VersionStore(robot.store.root), parse_policies(None))
    assert again.activate('nav').active == 'nav@0.9.0', 'promotions survive a restart'
    again.close()


def test_pin_holds_a_version_against_new_candidates(tmp_path):
    robot, shop, installer, controller = make_fleet(
        tmp_path, policies={'nav': {'mode': 'canary', 'share': 1.0}})
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    install(installer, controller, shop.bundle('nav', '1.1.0', seed=2))
    controller.pin('nav@1.0.0')
    assert 'pinned' in install(installer, controller, shop.bundle('nav', '1.2.0', seed=3))
    robot.engine.activate('nav')
    controller.after_step(robot.engine.step(observations(1)[0]), None)
    assert robot.engine.step(observations(1)[0]).adapter == 'nav@1.0.0'
    assert controller.status()['nav']['candidate'] == ''
    robot.engine.close()


def _binomial_ok(count, n, share):
    sigma = (n * share * (1 - share)) ** 0.5
    return abs(count - n * share) <= 4.5 * sigma


def test_canary_split_is_deterministic_and_matches_its_share(tmp_path):
    share = 0.3
    windows = [canary_serves_candidate('robot-7', 'nav', '1.1.0', w, share)
               for w in range(20000)]
    assert _binomial_ok(sum(windows), len(windows), share)
    robots = [canary_serves_candidate(f'robot-{i}', 'nav', '1.1.0', 0, share)
              for i in range(5000)]
    assert _binomial_ok(sum(robots), len(robots), share)
    assert robots == [canary_serves_candidate(f'robot-{i}', 'nav', '1.1.0', 0, share)
                      for i in range(5000)]
    assert windows[:200] != [canary_serves_candidate('robot-8', 'nav', '1.1.0', w, share)
                             for w in range(200)]

    robot, shop, installer, controller = make_fleet(
        tmp_path, policies={'nav': {'mode': 'canary', 'share': share, 'window': 'episode'}})
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    assert 'canary started' in install(installer, controller,
                                       shop.bundle('nav', '1.1.0', seed=2))
    engine = robot.engine
    engine.activate('nav')
    x = observations(1)[0]
    served = []
    episodes = 400
    for _ in range(episodes):
        controller.next_episode()
        controller.after_step(engine.step(x), ((x,), {}))
        result = engine.step(x)
        controller.after_step(result, ((x,), {}))
        served.append(result.adapter == 'nav@1.1.0')
    expected = [canary_serves_candidate('robot-7', 'nav', '1.1.0', e, share)
                for e in range(1, episodes + 1)]
    assert served == expected
    assert _binomial_ok(sum(served), episodes, share)
    assert controller.stats['nav@1.1.0'].windows == sum(served)
    assert controller.stats['nav@1.0.0'].ticks + controller.stats['nav@1.1.0'].ticks \
        == 2 * episodes
    engine.close()


def test_canary_time_windows_and_automatic_promotion(tmp_path):
    now = [0.0]
    robot, shop, installer, controller = make_fleet(
        tmp_path, clock=lambda: now[0],
        policies={'nav': {'mode': 'canary', 'share': 0.5, 'window': 'time',
                          'window_s': 10.0, 'promote_after': 3}})
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    install(installer, controller, shop.bundle('nav', '1.1.0', seed=2))
    engine = robot.engine
    engine.activate('nav')
    x = observations(1)[0]
    deadline = time.monotonic() + 60
    while controller.store.name_state('nav').promoted != '1.1.0':
        assert time.monotonic() < deadline, 'the canary was never promoted'
        now[0] += 10.0
        for _ in range(2):
            controller.after_step(engine.step(x), ((x,), {}))
        time.sleep(0.01)
    window = int(now[0] // 10.0)
    assert sum(canary_serves_candidate('robot-7', 'nav', '1.1.0', w, 0.5)
               for w in range(window + 1)) >= 3
    engine.close()


def test_shadow_divergence_equals_the_directly_computed_difference(tmp_path):
    threshold = 0.05
    robot, shop, installer, controller = make_fleet(
        tmp_path, policies={'nav': {'mode': 'shadow', 'threshold': threshold}})
    engine = robot.engine
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    assert 'shadow started' in install(installer, controller,
                                       shop.bundle('nav', '1.1.0', seed=2, scale=0.2))
    xs = observations(60, seed=5)
    engine.activate('nav')
    shadow = controller.shadow('nav')
    published = []
    for i, x in enumerate(xs):
        result = engine.step(x)
        assert result.adapter == 'nav@1.0.0', 'the shadow candidate is never active'
        published.append(result.output.clone())
        controller.after_step(result, ((x,), {}))
        assert shadow.wait_compared(i + 1, timeout=30.0)
        time.sleep(PERIOD)      # a control loop's rhythm: the shadow runs in the gaps
    candidate = _outputs(engine, 'nav@1.1.0', xs)
    active = _outputs(engine, 'nav@1.0.0', xs)
    assert all(p.equal(a) for p, a in zip(published, active)), 'only the active is published'
    direct = np.array([float((c - a).abs().max()) for c, a in zip(candidate, active)])
    measured = np.array(shadow.divergences())
    np.testing.assert_allclose(measured, direct, rtol=0, atol=1e-6)
    summary = controller.status()['nav']
    assert summary['shadow_ticks'] == len(xs)
    assert summary['shadow_mean'] == pytest.approx(direct.mean(), abs=1e-6)
    assert summary['shadow_p99'] == pytest.approx(np.percentile(direct, 99), abs=1e-6)
    assert summary['shadow_share_above'] == pytest.approx((direct > threshold).mean())
    assert 0 < summary['shadow_share_above'] < 1, 'pick a threshold inside the divergences'
    engine.close()


@pytest.mark.parametrize('max_share,promoted', [(1.0, '1.1.0'), (0.0, '1.0.0')])
def test_shadow_promotes_only_within_its_divergence_budget(tmp_path, max_share, promoted):
    robot, shop, installer, controller = make_fleet(tmp_path, policies={'nav': {
        'mode': 'shadow', 'threshold': 0.0, 'min_ticks': 5, 'max_share': max_share}})
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    install(installer, controller, shop.bundle('nav', '1.1.0', seed=2))
    robot.engine.activate('nav')
    shadow = controller.shadow('nav')
    for i, x in enumerate(observations(5)):
        controller.after_step(robot.engine.step(x), ((x,), {}))
        assert shadow.wait_compared(i + 1, timeout=30.0)
        time.sleep(PERIOD)
    deadline = time.monotonic() + 30
    verdict = 'nav@1.1.0 promoted' if promoted == '1.1.0' else 'stays a shadow candidate'
    while not any(verdict in event for event in controller.events):
        assert time.monotonic() < deadline, f'no verdict {verdict!r}: {controller.events}'
        time.sleep(0.05)
    assert controller.store.name_state('nav').promoted == promoted
    robot.engine.close()


def test_nan_producing_version_is_rolled_back_at_once(tmp_path):
    robot, shop, installer, controller = make_fleet(tmp_path)
    engine = robot.engine
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    # Finite weights whose product overflows on any non-zero observation: the zero probe
    # input passes, the first real tick gives NaN.
    install(installer, controller, shop.bundle('nav', '1.1.0', seed=2, scale=1e20,
                                               scaled='body'))
    x = observations(1)[0]
    good = _outputs(engine, 'nav@1.0.0', [x])[0]
    engine.activate('nav')
    controller.promote('nav')
    assert engine.active == 'nav@1.1.0'
    result = engine.step(x)
    assert not torch.isfinite(result.output).all()
    controller.after_step(result, ((x,), {}))
    assert engine.active == 'nav@1.0.0'
    assert engine.step(x).output.equal(good)
    assert 'non-finite' in controller.demoted['nav@1.1.0']
    assert any('automatic rollback' in e for e in controller.events)
    assert controller.store.name_state('nav').promoted == '1.0.0'
    engine.close()


@pytest.mark.parametrize('mode', ['promoted', 'canary'])
def test_health_signal_rolls_back(tmp_path, mode):
    policies = {'nav': {'mode': 'canary', 'share': 1.0}} if mode == 'canary' else None
    robot, shop, installer, controller = make_fleet(tmp_path, policies=policies)
    engine = robot.engine
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    install(installer, controller, shop.bundle('nav', '1.1.0', seed=2))
    engine.activate('nav')
    x = observations(1)[0]
    if mode == 'promoted':
        controller.promote('nav')
    else:
        controller.after_step(engine.step(x), ((x,), {}))
    assert engine.step(x).adapter == 'nav@1.1.0'
    controller.report_health(True, 'safety stop')
    assert engine.active == 'nav@1.1.0'
    controller.report_health(False, 'safety stop')
    assert engine.active == 'nav@1.0.0'
    assert engine.step(x).adapter == 'nav@1.0.0'
    assert 'safety stop reported a fault' in controller.demoted['nav@1.1.0']
    state = controller.store.name_state('nav')
    assert state.promoted == '1.0.0' and state.candidate is None
    engine.close()


def test_bundle_installs_while_the_loop_runs_at_full_rate(tmp_path):
    robot, shop, installer, controller = make_fleet(tmp_path)
    engine = robot.engine
    install(installer, controller, shop.bundle('nav', '1.0.0', seed=1))
    bundle = shop.bundle('nav', '1.1.0', seed=2)
    x = observations(1)[0]
    expected = _outputs(engine, 'nav@1.0.0', [x])[0]
    period = 0.01
    ticks, lateness, wrong = [0], [], []
    stop = threading.Event()

    def loop():
        due = time.perf_counter()
        while not stop.is_set():
            due += period
            result = engine.step(x)
            controller.after_step(result, ((x,), {}))
            ticks[0] += 1
            if not result.output.equal(expected) or result.adapter != 'nav@1.0.0':
                wrong.append(result.adapter)
            time.sleep(max(0.0, due - time.perf_counter()))
            lateness.append(time.perf_counter() - due)

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(0.3)
    started, began = ticks[0], time.perf_counter()
    ref = installer.install(bundle)
    during, took = ticks[0] - started, time.perf_counter() - began
    stop.set()
    thread.join()
    assert ref == 'nav@1.1.0' and robot.store.installed()['nav'] == ['1.0.0', '1.1.0']
    # A small bundle installs in about two ticks: on a busy machine the loop thread may not be
    # scheduled within so short a span, but an install that held it up for longer would.
    assert during > 0 or took < 3 * period, \
        f'the loop did not tick during an install of {took * 1e3:.0f} ms'
    assert wrong == [], 'every tick ran the promoted version, unchanged'
    print(f'ticks during install: {during}, lateness p99 '
          f'{np.percentile(lateness, 99) * 1e3:.2f} ms')
    engine.close()
