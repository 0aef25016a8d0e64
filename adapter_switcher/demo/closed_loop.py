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
The demo's closed loop without ROS: simulator, context policy and a driver, on the sim clock.

It has the timing of the ROS graph in lock-step (lidar and camera at their SDF rates, every
sensor sampled once at the reset instant, odometry at every tick, the context policy and the
driver ticking at ``control_hz`` on the latest data, its command held until the next tick)
without the transport, so the demo adapters can be trained (DAgger,
:mod:`adapter_switcher.demo.training`) and checked in seconds, and the demo over DDS
(:mod:`adapter_switcher.demo.run_demo`) reproduces it episode for episode. The scripted
experts always run alongside as labellers: whatever drives, each tick records the observation
the inference node would build and what each expert would command.
"""

from dataclasses import dataclass
from dataclasses import field
import math
from typing import Callable, FrozenSet, List, Mapping, Optional, Tuple

from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.policy import Decision
from adapter_switcher.context.rules import ContextRules
from adapter_switcher.context.rules import load_rules
from adapter_switcher.demo.observations import CARROT_DISTANCE
from adapter_switcher.demo.observations import Encoder
from adapter_switcher.demo.observations import feature_observation
from adapter_switcher.demo.observations import Sensing
from adapter_switcher.demo.visuomotor import carrot_in_robot_frame
from adapter_switcher.demo.visuomotor import held_offset_command
from adapter_switcher.demo.visuomotor import OFFSET_LIMIT
from adapter_switcher.demo.visuomotor import OFFSET_TRACKING
from adapter_switcher.offset_hold import OffsetHold
from adapter_switcher.paths import share_path
from adapter_switcher.route_progress import PlanarPose
from adapter_switcher.route_progress import RouteProgress
from adapter_switcher.sim.experts import hazard_expert
from adapter_switcher.sim.experts import HazardParams
from adapter_switcher.sim.experts import navigation_expert
from adapter_switcher.sim.experts import NavigationParams
from adapter_switcher.sim.experts import Scan
from adapter_switcher.sim.experts import slow_expert
from adapter_switcher.sim.experts import SlowParams
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import situation_segment
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.simulator import WarehouseSim
from adapter_switcher.sim.timing import RateSchedule

import numpy as np
import torch

Command = Tuple[float, float]
# Gentler experts than the defaults: a long look-ahead and a long detour ramp steer smoothly
# instead of turning on the spot, which a small policy network can imitate.
DEMO_NAVIGATION = NavigationParams(lookahead=1.5, heading_gain=1.5, turn_in_place=1.2)
DEMO_HAZARD = HazardParams(lead=1.0, ramp=2.5, margin=0.5)
# On the full route spills lie next to turns: the detour is tracked tighter and slower.
# The offset stays 0.2 m clear of the shelves, and the spill is mapped from floor points within
# 4.5 m, where the projection is accurate.
ROUTE_HAZARD = HazardParams(lead=1.0, ramp=2.0, margin=0.5, hazard_speed=0.25,
                            detour_lookahead=0.9, max_offset=0.8, max_range=4.5)
ROUTE_SCENARIO = 'config/scenario.yaml'
ROUTE_RULES = 'config/route_rules.yaml'
CONTROL_HZ = 20.0          # the inference node's rate_hz
EPISODE_TIME_LIMIT_S = 90.0
# The full route (54 m) takes the experts 65-90 s, longer with a slow zone and detours: its
# episodes (training, validation, benchmark alike) end at this limit, well past that.
ROUTE_TIME_LIMIT_S = 250.0


@dataclass(frozen=True)
class Tick:
    """
    What a driver sees at one control tick, and what each expert would command there.

    ``labels`` maps each situation (adapter) name to its expert's command; ``observation`` is
    None, and ``labels`` has the navigation expert's only, in episodes run without them
    (:meth:`DemoLoop.run`).
    """

    time: float
    snapshot: FeatureSnapshot
    decision: Decision
    observation: Optional[torch.Tensor]
    labels: Mapping[str, Command]
    # What a learner imitates where it differs from the label: the hazard expert's detour
    # before its look-ahead check, whose stop-and-turn replies no image can predict.
    teaching: Mapping[str, Command] = field(default_factory=dict)
    # Where the robot is, and its progress along the route (the navigation expert's, advanced
    # to ``pose``): what a driver that tracks the route needs (:mod:`route_tracking`). The
    # progress is the live one: it holds for the driver's call, not in a recording.
    pose: PlanarPose = (0.0, 0.0, 0.0)
    route: Optional[RouteProgress] = None
    # Each expert's ``(speed, offset from the route)``: what the visuomotor policy imitates.
    offsets: Mapping[str, Command] = field(default_factory=dict)
    # Situations whose expert acts on what it sees here, whatever the rules want yet (a spill
    # in view ahead before the rules switch): their adapters learn these ticks too.
    engaged: FrozenSet[str] = frozenset()
    # The detour memory of a driver that tracks the route (:mod:`offset_hold`), one per
    # episode as the node keeps one per plan; live, like ``route``.
    hold: Optional[OffsetHold] = None

    def target(self, name: str) -> Command:
        """Return the command a learner of adapter ``name`` imitates at this tick."""
        return self.teaching.get(name, self.labels[name])

    @property
    def navigation_label(self) -> Command:
        return self.labels['navigation']

    @property
    def hazard_label(self) -> Command:
        return self.labels['hazard']


@dataclass
class EpisodeResult:
    """How one episode went; each switch is (seconds into the episode, adapter, robot x)."""

    seed: int
    reached_goal: bool = False
    collisions: int = 0
    spill_entries: int = 0
    slow_zone_violations: int = 0
    sim_time: float = 0.0
    distance: float = 0.0
    switches: List[Tuple[float, str, float]] = field(default_factory=list)  # time, name, x
    final_pose: Tuple[float, float] = (0.0, 0.0)

    @property
    def success(self) -> bool:
        return self.reached_goal and not (self.collisions or self.spill_entries or
                                          self.slow_zone_violations)


Driver = Callable[[Tick], Command]


class DemoLoop:
    """Runs episodes of the demo scenario with any driver, recording labelled ticks."""

    def __init__(self, sim: WarehouseSim, rules: ContextRules, control_hz: float = CONTROL_HZ,
                 navigation: NavigationParams = DEMO_NAVIGATION,
                 hazard: HazardParams = DEMO_HAZARD, slow: SlowParams = SlowParams(),
                 encoder: Encoder = feature_observation):
        self.encoder = encoder
        self.sim = sim
        self.rules = rules
        self.control_hz = control_hz
        self.navigation_params = navigation
        self.hazard_params = hazard
        self.slow_params = slow

    def run(self, seed: int, driver: Driver, time_limit_s: float = EPISODE_TIME_LIMIT_S,
            record: Optional[List[Tick]] = None, label: bool = True,
            encode: bool = True, situation: bool = False) -> EpisodeResult:
        """
        Drive one episode with ``driver``; append every tick to ``record`` if given.

        What no one reads is not computed, which changes nothing else in the episode: with
        ``label=False`` only the navigation expert runs (it tracks the route progress and the
        carrot), for drivers that ignore the labels; with ``encode=False`` ticks carry no
        observation, for drivers that ignore it (the experts). ``situation=True`` drives the
        seed's situation segment (:func:`~adapter_switcher.sim.scenario.situation_segment`:
        a short route around one spill or the zone) instead of the whole route.
        """
        sim, world = self.sim, self.sim.world
        scenario = sim.scenario
        if situation:
            scenario, episode = situation_segment(sim.scenario, seed)
            sim.start_episode(episode)
        else:
            sim.reset(seed)
        lidar = world.robot.lidar
        navigation = navigation_expert(world, scenario, self.navigation_params)
        hazard = slow = None
        if label:
            hazard = hazard_expert(world, scenario, self.hazard_params, self.navigation_params)
            slow = slow_expert(world, scenario, self.slow_params, self.navigation_params)
        features = FeatureExtractor(self.rules.features)
        policy = ContextPolicy(self.rules)
        schedules = [RateSchedule(rate, sim.time_ns) for rate in
                     (world.robot.camera.update_rate, lidar.update_rate, self.control_hz)]
        result = EpisodeResult(seed)
        # Episode time from the integer clock: the same episode gives the same times (and
        # results) whatever the simulator's clock read when it started.
        start_ns, command, adapter = sim.time_ns, (0.0, 0.0), None
        hold = OffsetHold()

        def elapsed() -> float:
            return (sim.time_ns - start_ns) * 1e-9

        odometry, image, ranges = self._sense(features, hazard, camera=True, lidar=True)
        while elapsed() < time_limit_s and not navigation.done:
            sim.step(*command)
            odometry, seen, scanned = self._sense(features, hazard,
                                                  schedules[0].due(sim.time_ns),
                                                  schedules[1].due(sim.time_ns))
            image = image if seen is None else seen
            ranges = ranges if scanned is None else scanned
            pose, now = (odometry.x, odometry.y, odometry.yaw), sim.time
            if not schedules[2].due(sim.time_ns):
                continue
            scan = Scan(ranges, lidar.min_angle, lidar.angle_increment)
            snapshot = features.snapshot(now)
            decision = policy.update(snapshot)
            labels, teaching = {'navigation': navigation.act(pose, scan)}, {}
            offsets = {'navigation': (labels['navigation'][0], 0.0)}
            if label:
                labels.update(hazard=hazard.act(pose, scan), slow_zone=slow.act(pose, scan))
                teaching['hazard'] = hazard.path_command
                offsets.update(
                    hazard=(hazard.path_command[0],
                            hazard.planned_offset(pose, OFFSET_TRACKING.lookahead)),
                    slow_zone=(labels['slow_zone'][0], 0.0))
            observation = None
            if encode:
                carrot = carrot_in_robot_frame(pose, navigation.carrot(pose, CARROT_DISTANCE))
                observation = self.encoder(Sensing(snapshot, image, ranges, lidar.range_max,
                                                   odometry.linear, odometry.angular, carrot))
            engaged = frozenset({'hazard'} if label and hazard.active else ())
            tick = Tick(elapsed(), snapshot, decision, observation, labels, teaching, pose,
                        navigation, offsets, engaged, hold)
            command = _finite(driver(tick))
            if decision.desired != adapter:
                adapter = decision.desired
                result.switches.append((round(tick.time, 2), adapter, pose[0]))
            if record is not None:
                record.append(tick)
        result.reached_goal = navigation.done
        result.collisions = sim.stats.collisions
        result.spill_entries = sim.stats.spill_entries
        result.slow_zone_violations = sim.stats.slow_zone_violations
        result.sim_time = elapsed()
        result.distance = sim.stats.distance
        result.final_pose = (odometry.x, odometry.y)
        return result

    def _sense(self, features: FeatureExtractor, hazard, camera: bool, lidar: bool):
        """
        Feed the sensors due now to the features (and the hazard expert, unless None).

        Return the odometry, and the image and the scan when they were due (else None).
        """
        sim = self.sim
        odometry, now = sim.odometry(), sim.time
        features.update_odom(odometry.linear, 0.0, odometry.angular, now)
        image = ranges = None
        if camera:
            image = sim.image()
            features.update_image(image, 'rgb8', now)
            if hazard is not None:
                hazard.observe(image, (odometry.x, odometry.y, odometry.yaw))
        if lidar:
            spec = sim.world.robot.lidar
            ranges = sim.scan().astype(np.float32)  # as a LaserScan carries them
            features.update_scan(ranges, spec.min_angle, spec.angle_increment,
                                 spec.range_min, spec.range_max, now)
        return odometry, image, ranges


def open_demo_loop(world: str = 'worlds/warehouse.sdf',
                   scenario: str = 'config/demo_scenario.yaml',
                   rules: str = 'config/context_rules.yaml',
                   encoder: Encoder = feature_observation) -> DemoLoop:
    """Return a DemoLoop on the package's world, a scenario and context rules."""
    loaded_world = load_world(share_path(world))
    sim = WarehouseSim(loaded_world, load_scenario(share_path(scenario)))
    return DemoLoop(sim, load_rules(share_path(rules)), encoder=encoder)


def open_route_loop(encoder: Encoder = feature_observation) -> DemoLoop:
    """Return a DemoLoop on the full route: config/scenario.yaml and config/route_rules.yaml."""
    loop = open_demo_loop(scenario=ROUTE_SCENARIO, rules=ROUTE_RULES, encoder=encoder)
    loop.hazard_params = ROUTE_HAZARD
    return loop


def _finite(command: Command) -> Command:
    linear, angular = (float(c) for c in command)
    if not (math.isfinite(linear) and math.isfinite(angular)):
        return 0.0, 0.0
    return linear, angular


def expert_driver(noise: float = 0.0, seed: int = 0) -> Driver:
    """Drive with the expert the context wants (its adapter's name), plus Gaussian noise."""
    rng = np.random.default_rng(seed)

    def drive(tick: Tick) -> Command:
        label = tick.labels.get(tick.decision.desired, tick.labels['navigation'])
        return label[0] + rng.normal(0.0, noise), label[1] + rng.normal(0.0, 2 * noise)
    return drive


def expert_offset_driver() -> Driver:
    """
    Drive the experts' speeds and offsets, what the visuomotor policy imitates, through its law.

    At each tick the speed and offset of the expert the rules want (``Tick.offsets``), the
    offset clipped to the law's OFFSET_LIMIT and passed through the episode's detour memory,
    tracked as the learned policy's decoded output is (:func:`held_offset_command`): what a
    learner that imitated the teachers without error would drive. The hazard expert itself also
    checks its command a second ahead against the spills it remembers and turns away; no
    output of the policy can. Where this driver fails, no learner of these targets passes.
    """
    def drive(tick: Tick) -> Command:
        speed, offset = tick.offsets.get(tick.decision.desired, tick.offsets['navigation'])
        offset = max(-OFFSET_LIMIT, min(OFFSET_LIMIT, offset))  # as the policy's decoding
        return held_offset_command(tick.route, tick.pose, speed, offset, tick.hold)
    return drive
