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
Context rules: which adapter the situation needs, read from YAML and validated up front.

A rules file names a default adapter and, per adapter, a priority, enter and exit conditions on
features, a minimum dwell time, optional hints and an optional fallback (docs/context-rules.md
documents the format). Every condition is one test on one feature: ``above`` or
``below`` a number, or ``is`` a bool. An adapter enters when ALL its enter conditions hold and,
once active, leaves when ANY of its exit conditions holds: each exit condition is the negation of
an enter condition moved past it (the hysteresis), so the enter conditions stopping to hold
means one of the exits will. A feature missing from a snapshot makes its condition neither true
nor false: the adapter neither enters nor leaves on it.

Anything wrong is refused when the file is loaded, not when the robot meets the situation:
RulesError names the file, the adapter and the field.
"""

from dataclasses import dataclass
import numbers
import os
from types import MappingProxyType
from typing import Any, Collection, Dict, Iterable, Mapping, Optional, Tuple, Union

from adapter_switcher.context.checks import finite_number
from adapter_switcher.context.features import FEATURE_KINDS
from adapter_switcher.context.features import FeatureConfig
import yaml

ABOVE = 'above'
BELOW = 'below'
IS = 'is'
APPROACHING = 'approaching'
_SYMBOLS = {ABOVE: '>', BELOW: '<', IS: '=='}
_OPPOSITE = {ABOVE: BELOW, BELOW: ABOVE}
_TOP_KEYS = ('default', 'features', 'adapters')
_RULE_KEYS = ('priority', 'enter', 'exit', 'min_dwell_s', 'yields_to', 'hint', 'fallback')
# What only a non-default adapter can have: the default is active whenever nothing else is.
_NOT_FOR_DEFAULT = ('enter', 'exit', 'min_dwell_s', 'yields_to', 'hint', 'fallback')
DICT_SOURCE = '<dict>'


class RulesError(ValueError):
    """A rules file is unusable; the message names the file, the field and the problem."""

    def __init__(self, source: str, field: str, problem: str):
        super().__init__(f'{source}: {field}: {problem}')
        self.source = source
        self.field = field
        self.problem = problem


def format_value(value: Union[float, bool], versus: Optional[float] = None) -> str:
    """
    Return a feature value or threshold as the YAML would spell it.

    With ``versus`` (the threshold a value is compared with), use as many digits as it takes to
    tell them apart, so that a reason never reads "0.02 > 0.02".
    """
    if isinstance(value, bool):
        return 'true' if value else 'false'
    for digits in (6, 9, 12, 17):
        text = f'{value:.{digits}g}'
        if versus is None or isinstance(versus, bool) or text != f'{versus:.{digits}g}':
            return text
    return text


@dataclass(frozen=True)
class Condition:
    """One test on one feature: ``feature op threshold``."""

    feature: str
    op: str
    threshold: Union[float, bool]

    def holds(self, values: Mapping[str, Any]) -> Optional[bool]:
        """Return whether the test passes on ``values``; None if the feature is missing."""
        value = values.get(self.feature)
        if value is None:
            return None
        if self.op == IS:
            return bool(value) is self.threshold
        if self.op == ABOVE:
            return value > self.threshold
        return value < self.threshold

    def describe(self, values: Mapping[str, Any]) -> str:
        """
        Return the test with the current value, for a decision's reason.

        For instance ``spill_fraction 0.03 > 0.02`` when it holds, and
        ``spill_fraction 0.01 (needs > 0.02)`` when it does not.
        """
        test = f'{_SYMBOLS[self.op]} {format_value(self.threshold)}'
        value = values.get(self.feature)
        if value is None:
            return f'{self.feature} missing (needs {test})'
        shown = format_value(value, self.threshold)
        if self.holds(values):
            return f'{self.feature} {shown} {test}'
        return f'{self.feature} {shown} (needs {test})'


def describe_all(conditions: Iterable[Condition], values: Mapping[str, Any]) -> str:
    """Return the conditions with their current values, joined by 'and'."""
    return ' and '.join(condition.describe(values) for condition in conditions)


@dataclass(frozen=True)
class Hint:
    """A feature on its way from ``start`` to the threshold ``target``: something is coming."""

    feature: str
    start: float
    target: float

    def closeness(self, value: float) -> float:
        """Return how far ``value`` is along the way from start (0) to target (1), clipped."""
        return min(1.0, max(0.0, (value - self.start) / (self.target - self.start)))


@dataclass(frozen=True)
class AdapterRule:
    """When one adapter is wanted; built by load_rules, which checks it."""

    name: str
    priority: int
    enter_conditions: Tuple[Condition, ...] = ()
    exit_conditions: Tuple[Condition, ...] = ()
    min_dwell_s: float = 0.0
    hints: Tuple[Hint, ...] = ()
    fallback: Optional[str] = None
    yields_to: Tuple[str, ...] = ()

    def enter_holds(self, values: Mapping[str, Any]) -> bool:
        """Return True when every enter condition holds (never for the default's empty set)."""
        return bool(self.enter_conditions) and all(
            c.holds(values) is True for c in self.enter_conditions)

    def exits_holding(self, values: Mapping[str, Any]) -> Tuple[Condition, ...]:
        """Return the exit conditions that hold; any one of them lets the adapter leave."""
        return tuple(c for c in self.exit_conditions if c.holds(values) is True)

    @property
    def leave_hints(self) -> Tuple[Hint, ...]:
        """
        Return hints towards leaving: each numeric feature moving from enter to exit threshold.

        The hysteresis band is where an adapter is kept although its enter condition no longer
        holds; a feature crossing it towards the exit threshold announces the switch back.
        """
        enters = {c.feature: c for c in self.enter_conditions if c.op != IS}
        return tuple(Hint(c.feature, enters[c.feature].threshold, c.threshold)
                     for c in self.exit_conditions if c.feature in enters)


@dataclass(frozen=True)
class ContextRules:
    """A validated rules file: build it with :func:`load_rules`."""

    default: str
    adapters: Mapping[str, AdapterRule]
    features: FeatureConfig
    source: str = DICT_SOURCE

    @property
    def ranked(self) -> Tuple[AdapterRule, ...]:
        """Return the rules from the highest priority down."""
        return tuple(sorted(self.adapters.values(), key=lambda rule: -rule.priority))

    def strongest_entering(self, values: Mapping[str, Any], above: int
                           ) -> Optional[AdapterRule]:
        """Return the highest-priority rule above ``above`` whose enter conditions hold."""
        for rule in self.ranked:
            if rule.priority <= above:
                return None
            if rule.enter_holds(values):
                return rule
        return None

    def leave_target(self, current: str, values: Mapping[str, Any],
                     owed: Collection[str] = ()) -> str:
        """
        Return where ``current`` goes when it leaves.

        That is its fallback (the default if it names none), unless a rule between the two in
        priority enters right now (it would escalate over the fallback on the next snapshot
        anyway) or is in ``owed`` (its situation was seen within its dwell, while ``current``
        ran): then the highest such rule.
        """
        rule = self.adapters[current]
        target = self.adapters[rule.fallback or self.default]
        for candidate in self.ranked:
            if candidate.priority <= target.priority:
                break
            if candidate.priority < rule.priority and (candidate.name in owed or
                                                       candidate.enter_holds(values)):
                return candidate.name
        return target.name


def load_rules(source: Union[str, os.PathLike, Mapping[str, Any]],
               known_adapters: Optional[Iterable[str]] = None) -> ContextRules:
    """
    Return the validated rules from a YAML file path or an already-parsed mapping.

    ``known_adapters`` (for instance the engine's adapter names), when given, makes every
    adapter the rules name have to be one of them. Raises RulesError (a ValueError) naming the
    file, the field and the problem; an unreadable file is a RulesError too.
    """
    if isinstance(known_adapters, str):
        raise TypeError('known_adapters must be a collection of names, not one string')
    known = None if known_adapters is None else frozenset(known_adapters)
    if isinstance(source, Mapping):
        return _Parser(DICT_SOURCE, known).rules(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f'rules source must be a path or a mapping, got {type(source).__name__}')
    path = os.fspath(source)
    return _Parser(path, known).rules(_read_yaml(path))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice instead of keeping the last one."""

    def construct_mapping(self, node, deep=False):
        seen = []
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    'while constructing a mapping', node.start_mark,
                    f'found duplicate key {key!r}', key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: str) -> Any:
    """Return the parsed YAML file, or raise RulesError saying why it cannot be read."""
    try:
        with open(path, encoding='utf-8') as stream:
            return yaml.load(stream, Loader=_UniqueKeyLoader)
    except OSError as error:
        raise RulesError(path, 'file', f'cannot read: {error.strerror or error}') from None
    except yaml.YAMLError as error:
        raise RulesError(path, 'file', f'not valid YAML: {error}') from None


class _Parser:
    """Turns the parsed YAML into ContextRules, failing on the first problem."""

    def __init__(self, source: str, known: Optional[frozenset]):
        self._source = source
        self._known = known
        self._default: Any = None

    def _fail(self, field: str, problem: str):
        raise RulesError(self._source, field, problem)

    def rules(self, data: Any) -> ContextRules:
        if not isinstance(data, Mapping):
            self._fail('top level', f'expected a mapping with {", ".join(_TOP_KEYS)}, '
                       f'got {type(data).__name__}')
        for key in data:
            if key not in _TOP_KEYS:
                self._fail(str(key), f'unknown key (expected {", ".join(_TOP_KEYS)})')
        if 'default' not in data:
            self._fail('default', 'missing: name the adapter used when no rule enters')
        self._default = data['default']
        features = self._features(data.get('features'))
        adapters = self._adapters(data.get('adapters'))
        self._check_priorities(adapters)
        self._check_fallbacks(adapters)
        self._check_yields(adapters)
        return ContextRules(self._default, MappingProxyType(adapters), features, self._source)

    def _features(self, data: Any) -> FeatureConfig:
        try:
            return FeatureConfig.from_mapping({} if data is None else data)
        except ValueError as error:
            self._fail('features', str(error))

    def _adapters(self, data: Any) -> Dict[str, AdapterRule]:
        if not isinstance(data, Mapping) or not data:
            self._fail('adapters', 'missing or empty: expected a mapping of adapter name to rule')
        # Checked first: which adapter is the default decides what the others may contain.
        if not isinstance(self._default, str) or self._default not in data:
            self._fail('default', f'{self._default!r} is not one of the adapters '
                       f'({", ".join(map(str, data))})')
        return {self._name(name): self._adapter(name, spec) for name, spec in data.items()}

    def _name(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            self._fail('adapters', f'adapter names must be non-empty strings, got {name!r}')
        if self._known is not None and name not in self._known:
            self._fail(f'adapters.{name}', f"unknown adapter '{name}' (available: "
                       f'{", ".join(sorted(self._known)) or "none"})')
        return name

    def _adapter(self, name: str, spec: Any) -> AdapterRule:
        where = f'adapters.{name}'
        if not isinstance(spec, Mapping):
            self._fail(where, f'expected a mapping of {", ".join(_RULE_KEYS)}')
        for key in spec:
            if key not in _RULE_KEYS:
                self._fail(f'{where}.{key}', f'unknown field (expected {", ".join(_RULE_KEYS)})')
        if name == self._default:
            for key in _NOT_FOR_DEFAULT:
                if key in spec:
                    self._fail(f'{where}.{key}', 'not allowed on the default adapter, which is '
                               'active whenever no other rule holds')
        elif 'enter' not in spec:
            self._fail(f'{where}.enter', 'missing: only the default adapter may have no enter '
                       'conditions')
        if 'priority' not in spec:
            self._fail(f'{where}.priority', 'missing: give an integer (higher wins)')
        priority = spec['priority']
        if isinstance(priority, bool) or not isinstance(priority, numbers.Integral):
            self._fail(f'{where}.priority', f'must be an integer, got {priority!r}')
        enter = self._conditions(f'{where}.enter', spec.get('enter'))
        exits = self._conditions(f'{where}.exit', spec.get('exit'))
        self._check_hysteresis(where, enter, exits)
        dwell = self._number(f'{where}.min_dwell_s', spec.get('min_dwell_s', 0.0))
        if dwell < 0.0:
            self._fail(f'{where}.min_dwell_s', f'must not be negative, got {format_value(dwell)}')
        fallback = spec.get('fallback')
        if fallback is not None and not isinstance(fallback, str):
            self._fail(f'{where}.fallback', f'must be an adapter name, got {fallback!r}')
        return AdapterRule(name, int(priority), enter, exits, dwell,
                           self._hints(f'{where}.hint', spec.get('hint'), enter), fallback,
                           self._yields(f'{where}.yields_to', spec.get('yields_to', [])))

    def _yields(self, field: str, data: Any) -> Tuple[str, ...]:
        if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
            self._fail(field, f'expected a list of adapter names, got {data!r}')
        return tuple(data)

    def _conditions(self, field: str, data: Any) -> Tuple[Condition, ...]:
        if data is None:
            return ()
        if not isinstance(data, Mapping) or not data:
            self._fail(field, 'expected a mapping of feature: {above|below|is: threshold}')
        return tuple(self._condition(f'{field}.{feature}', feature, test)
                     for feature, test in data.items())

    def _condition(self, field: str, feature: Any, test: Any) -> Condition:
        kind = self._feature_kind(field, feature)
        if not isinstance(test, Mapping) or len(test) != 1:
            self._fail(field, 'expected exactly one test: {above: x}, {below: x} or {is: bool}')
        (op, threshold), = test.items()
        if kind is bool:
            if op != IS or not isinstance(threshold, bool):
                self._fail(f'{field}.{op}', f'{feature} is a bool: test it with {{is: true}} or '
                           '{is: false}')
            return Condition(feature, IS, threshold)
        if op not in (ABOVE, BELOW):
            self._fail(f'{field}.{op}', f'unknown test for the number {feature}: use above or '
                       'below')
        return Condition(feature, op, self._number(f'{field}.{op}', threshold))

    def _feature_kind(self, field: str, feature: Any) -> type:
        if feature not in FEATURE_KINDS:
            self._fail(field, f'unknown feature {feature!r} (known: '
                       f'{", ".join(sorted(FEATURE_KINDS))})')
        return FEATURE_KINDS[feature]

    def _number(self, field: str, value: Any) -> float:
        try:
            return finite_number(field.rsplit('.', 1)[-1], value)
        except ValueError as error:
            self._fail(field, str(error))

    def _check_hysteresis(self, where: str, enter: Tuple[Condition, ...],
                          exits: Tuple[Condition, ...]) -> None:
        if enter and not exits:
            self._fail(f'{where}.exit', 'missing: an adapter that enters on conditions needs '
                       'exit conditions to leave')
        by_feature = {condition.feature: condition for condition in exits}
        for entering in enter:
            leaving = by_feature.get(entering.feature)
            if leaving is None:
                self._fail(f'{where}.exit', f'no condition on {entering.feature}, which enter '
                           f'uses: the adapter could not leave when {entering.feature} goes back')
            field = f'{where}.exit.{entering.feature}'
            if entering.op == IS:
                if leaving.threshold is entering.threshold:
                    self._fail(field, f'exit "is {format_value(leaving.threshold)}" equals '
                               'enter: exit must test the opposite value')
                continue
            wanted = _OPPOSITE[entering.op]
            if leaving.op != wanted:
                self._fail(field, f'inverted: enter is "{entering.op}", so exit must be '
                           f'"{wanted}" a threshold on the far side (hysteresis)')
            beyond = (leaving.threshold < entering.threshold if entering.op == ABOVE
                      else leaving.threshold > entering.threshold)
            if not beyond:
                side = 'lower' if entering.op == ABOVE else 'higher'
                self._fail(field, f'exit {leaving.op} {format_value(leaving.threshold)} must be '
                           f'{side} than enter {entering.op} {format_value(entering.threshold)}'
                           ': equal or inverted thresholds give no hysteresis and flap')

    def _hints(self, field: str, data: Any, enter: Tuple[Condition, ...]) -> Tuple[Hint, ...]:
        if data is None:
            return ()
        if not isinstance(data, Mapping) or not data:
            self._fail(field, 'expected a mapping of feature: {approaching: value}')
        enters = {condition.feature: condition for condition in enter}
        hints = []
        for feature, test in data.items():
            where = f'{field}.{feature}'
            self._feature_kind(where, feature)
            entering = enters.get(feature)
            if entering is None or entering.op == IS:
                self._fail(where, 'a hint approaches a numeric enter threshold, and enter has '
                           f'none on {feature}')
            if not isinstance(test, Mapping) or list(test) != [APPROACHING]:
                self._fail(where, 'expected {approaching: value}')
            start = self._number(f'{where}.{APPROACHING}', test[APPROACHING])
            before = (start < entering.threshold if entering.op == ABOVE
                      else start > entering.threshold)
            if not before:
                side = 'below' if entering.op == ABOVE else 'above'
                self._fail(f'{where}.{APPROACHING}', f'{format_value(start)} must be {side} the '
                           f'enter threshold {format_value(entering.threshold)} it approaches')
            hints.append(Hint(feature, start, entering.threshold))
        return tuple(hints)

    def _check_priorities(self, adapters: Mapping[str, AdapterRule]) -> None:
        owners: Dict[int, str] = {}
        for name, rule in adapters.items():
            other = owners.setdefault(rule.priority, name)
            if other != name:
                self._fail(f'adapters.{name}.priority', f'{rule.priority} is also the priority '
                           f'of {other}: equal priorities make the choice ambiguous')
        floor = adapters[self._default].priority
        for name, rule in adapters.items():
            if name != self._default and rule.priority <= floor:
                self._fail(f'adapters.{name}.priority', f'{rule.priority} is not above the '
                           f'default adapter {self._default} ({floor}): it could never take over')

    def _check_yields(self, adapters: Mapping[str, AdapterRule]) -> None:
        for name, rule in adapters.items():
            for other in rule.yields_to:
                field = f'adapters.{name}.yields_to'
                if other not in adapters or other in (name, self._default):
                    choices = ', '.join(n for n in adapters if n not in (name, self._default))
                    self._fail(field, f'{other!r} is not another non-default adapter ({choices})')
                if adapters[other].priority >= rule.priority:
                    self._fail(field, f'{other!r} has priority {adapters[other].priority}, not '
                               f'below {rule.priority}: a higher rule takes over when it enters '
                               'anyway')

    def _check_fallbacks(self, adapters: Mapping[str, AdapterRule]) -> None:
        for name, rule in adapters.items():
            if rule.fallback is not None and rule.fallback not in adapters:
                self._fail(f'adapters.{name}.fallback', f'{rule.fallback!r} is not one of the '
                           f'adapters ({", ".join(adapters)})')
        for name in adapters:
            chain = [name]
            while adapters[chain[-1]].fallback is not None:
                chain.append(adapters[chain[-1]].fallback)
                if chain[-1] in chain[:-1]:
                    self._fail(f'adapters.{name}.fallback', f'cycle: {" -> ".join(chain)}')
        for name, rule in adapters.items():
            if rule.fallback is not None and adapters[rule.fallback].priority >= rule.priority:
                self._fail(f'adapters.{name}.fallback', f'{rule.fallback} '
                           f'({adapters[rule.fallback].priority}) is not below {name} '
                           f'({rule.priority}) in priority: leaving must de-escalate')
