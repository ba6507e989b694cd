"""Startup declarations: the schedules a project declares in code, read when the scheduler starts.

A project declares its manifests in its ``trains`` module through the default builder::

    from trax.scheduling.declarations import ManifestItem, schedules
    from trax.scheduling.schedules import Every

    (
        schedules.schedule("extract", Extract, ExtractIn(), Every.minutes(5), group="etl")
        .then_include("transform", Transform, TransformIn(), group="etl")
        .then_include("load", Load, LoadIn(), group="etl")
        .include("validate", Validate, ValidateIn(), group="etl")
    )

Nothing here touches the database: each call validates what it is given (external id, train,
input against the train's input type, schedule, options) and appends a
:class:`ManifestDeclaration`; the leader's start-up sync writes them to ``trax_manifest`` by
external id. A call that fails raises and changes nothing.

Root and cursor (Trax's "Dependent Scheduling" rules). The builder keeps two pointers:

- the *root*, the last single scheduled manifest, which :meth:`ScheduleBuilder.include` (and
  items of :meth:`ScheduleBuilder.include_many` without ``depends_on``) depend on;
- the *cursor*, the last single declared manifest, which :meth:`ScheduleBuilder.then_include`
  depends on.

``schedule``, ``schedule_once`` and ``manual`` set both (a dependent may hang off any of them);
``include`` and ``then_include`` move the cursor and leave the root; ``schedule_many`` resets
both; ``include_many`` and ``then_include_many`` reset the cursor (a batch is not one manifest
to chain from; chain a batch with ``then_include_many`` and explicit ``depends_on``) and leave
the root, so ``include`` still branches from the last ``schedule``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from trax.conf import get_settings
from trax.core import Train
from trax.core.serialization import normalise
from trax.models.choices import ScheduleType
from trax.registry import resolve_train
from trax.scheduling.errors import DeclarationOrderError, ScheduleError
from trax.scheduling.graph import check_group_dependencies, check_manifest_dependencies
from trax.scheduling.options import ScheduleOptions, schedule_options, to_seconds
from trax.scheduling.schedules import CronSchedule, IntervalSchedule, Schedule

__all__ = [
    "EXTERNAL_ID_MAX_LENGTH",
    "ManifestDeclaration",
    "ManifestItem",
    "ScheduleBuilder",
    "reset_default_builder",
    "schedules",
]

EXTERNAL_ID_MAX_LENGTH = 255

TrainRef = type[Train[Any, Any]] | str

#: The keyword options every declaration accepts: the parameters of ``schedule_options``.
OPTION_NAMES: tuple[str, ...] = tuple(inspect.signature(schedule_options).parameters)


@dataclass(frozen=True)
class ManifestItem:
    """One item of a ``*_many`` call.

    ``id`` is the item's external id in an unnamed batch, or its suffix in a named one (the
    external id is then ``f"{name}-{id}"``). ``input`` is an instance of the train's input type
    or JSON-like data. ``depends_on`` is the parent's full external id (dependents only).
    """

    id: str
    input: Any
    depends_on: str | None = None


@dataclass(frozen=True)
class ManifestDeclaration:
    """One manifest as declared in code: what the start-up sync writes to ``trax_manifest``."""

    external_id: str
    train_name: str
    input: Any  # JSON data, validated against the train's input type
    schedule_type: ScheduleType
    interval_seconds: int | None
    cron_expression: str  # normalised six-field, seconds first; "" unless cron
    run_at: datetime | None  # aware; once only
    depends_on: str | None  # the parent's external id; dependents only
    options: ScheduleOptions
    group_name: str
    # run_at came from delay=: counted from each start-up, so the sync keeps the stored time.
    run_at_is_relative: bool = False

    @property
    def is_dependent(self) -> bool:
        return self.schedule_type in (ScheduleType.DEPENDENT, ScheduleType.DORMANT_DEPENDENT)


@dataclass(frozen=True)
class _Timing:
    schedule_type: ScheduleType
    interval_seconds: int | None = None
    cron_expression: str = ""
    run_at: datetime | None = None


class ScheduleBuilder:
    """Collects startup declarations in order; see the module docstring for root and cursor.

    ``declarations`` holds every :class:`ManifestDeclaration` in declaration order;
    ``prune_prefixes`` holds ``f"{name}-"`` for every named ``*_many`` batch (the sync prunes
    code-declared manifests under those prefixes that are no longer declared). Every method
    returns the builder, so calls chain.

    Options (keyword arguments of every method) are those of
    :func:`trax.scheduling.options.schedule_options`: ``group``, ``priority``, ``enabled``,
    ``max_retries``, ``retry_delay``, ``timeout``, ``misfire_policy``, ``misfire_threshold``,
    ``variance``, ``timezone`` and ``dormant`` (dependents only). The group defaults to the
    manifest's own external id (to the batch name for named batches).
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.declarations: list[ManifestDeclaration] = []
        self.prune_prefixes: set[str] = set()
        self._by_id: dict[str, ManifestDeclaration] = {}
        self._root: str | None = None
        self._cursor: str | None = None
        self._clock = clock or (lambda: datetime.now(UTC))

    # ── state ────────────────────────────────────────────────────────────────────────────────

    @property
    def root(self) -> str | None:
        """External id ``include`` depends on (the last schedule/schedule_once/manual)."""
        return self._root

    @property
    def cursor(self) -> str | None:
        """External id ``then_include`` depends on (the last single declaration)."""
        return self._cursor

    def __len__(self) -> int:
        return len(self.declarations)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._by_id

    def get(self, external_id: str) -> ManifestDeclaration:
        """The declaration with that external id (KeyError otherwise)."""
        return self._by_id[external_id]

    def reset(self) -> None:
        """Forget every declaration, prune prefix, root and cursor."""
        self.declarations.clear()
        self.prune_prefixes.clear()
        self._by_id.clear()
        self._root = None
        self._cursor = None

    # ── single manifests ─────────────────────────────────────────────────────────────────────

    def schedule(
        self,
        external_id: str,
        train: TrainRef,
        input: Any,
        schedule: Schedule,
        **options: Any,
    ) -> ScheduleBuilder:
        """Run ``train`` with ``input`` on ``schedule`` (an ``Every``/``Cron`` schedule).

        Sets the root and the cursor to ``external_id``.
        """
        opts = _options("schedule", options, dependent=False)
        timing = _timing_of(schedule)
        declaration = self._declare(external_id, train, input, timing, None, opts, None)
        self._commit([declaration])
        self._root = self._cursor = declaration.external_id
        return self

    def schedule_once(
        self,
        external_id: str,
        train: TrainRef,
        input: Any,
        *,
        run_at: datetime | None = None,
        delay: timedelta | int | None = None,
        **options: Any,
    ) -> ScheduleBuilder:
        """Run ``train`` once, at ``run_at`` (an aware datetime) or after ``delay`` (a timedelta or
        whole seconds, counted from this declaration); exactly one of the two is required. The
        manifest disables itself after a success.

        Like :meth:`schedule`, sets the root and the cursor, so dependents may hang off it.
        """
        opts = _options("schedule_once", options, dependent=False)
        if (run_at is None) == (delay is None):
            raise ScheduleError(
                f"schedule_once({external_id!r}) needs exactly one of run_at or delay",
                field="run_at",
            )
        if run_at is not None:
            if not isinstance(run_at, datetime):
                raise ScheduleError(f"run_at must be a datetime; got {run_at!r}", field="run_at")
            if run_at.tzinfo is None or run_at.utcoffset() is None:
                raise ScheduleError(
                    f"run_at must be an aware datetime (with a time zone); got {run_at!r}",
                    field="run_at",
                )
            when = run_at
        else:
            seconds = to_seconds(delay, field="delay")
            assert seconds is not None
            when = self._clock() + timedelta(seconds=seconds)
        timing = _Timing(ScheduleType.ONCE, run_at=when)
        declaration = self._declare(external_id, train, input, timing, None, opts, None)
        if delay is not None:
            declaration = replace(declaration, run_at_is_relative=True)
        self._commit([declaration])
        self._root = self._cursor = declaration.external_id
        return self

    def manual(
        self, external_id: str, train: TrainRef, input: Any, **options: Any
    ) -> ScheduleBuilder:
        """A manifest that never runs by itself, only when triggered.

        Like :meth:`schedule`, sets the root and the cursor, so dependents may hang off it.
        """
        opts = _options("manual", options, dependent=False)
        timing = _Timing(ScheduleType.MANUAL)
        declaration = self._declare(external_id, train, input, timing, None, opts, None)
        self._commit([declaration])
        self._root = self._cursor = declaration.external_id
        return self

    def include(
        self, external_id: str, train: TrainRef, input: Any, **options: Any
    ) -> ScheduleBuilder:
        """A dependent of the root (the last ``schedule``): runs after the root succeeds.

        Several ``include`` calls fan out from the same root. Moves the cursor to
        ``external_id``; leaves the root. Without a root: DeclarationOrderError.
        ``dormant=True`` declares a dormant dependent (activated by its running parent only).
        """
        opts = _options("include", options, dependent=True)
        if self._root is None:
            raise DeclarationOrderError(
                f"include({external_id!r}) must follow schedule (or schedule_once, manual): "
                "there is no root to depend on (schedule_many resets it)"
            )
        declaration = self._declare(
            external_id, train, input, _dependent_timing(opts), self._root, opts, None
        )
        self._commit([declaration])
        self._cursor = declaration.external_id
        return self

    def then_include(
        self, external_id: str, train: TrainRef, input: Any, **options: Any
    ) -> ScheduleBuilder:
        """A dependent of the cursor (the previous single declaration): chains A -> B -> C.

        Moves the cursor to ``external_id``; leaves the root. Without a cursor (first, or after
        a ``*_many`` call): DeclarationOrderError. ``dormant=True`` declares a dormant dependent.
        """
        opts = _options("then_include", options, dependent=True)
        if self._cursor is None:
            raise DeclarationOrderError(
                "then_include must follow schedule, include or then_include "
                f"(or schedule_once, manual): {external_id!r} has no previous declaration to "
                "depend on (a *_many batch is not one; use then_include_many with depends_on)"
            )
        declaration = self._declare(
            external_id, train, input, _dependent_timing(opts), self._cursor, opts, None
        )
        self._commit([declaration])
        self._cursor = declaration.external_id
        return self

    # ── batches ──────────────────────────────────────────────────────────────────────────────

    def schedule_many(
        self,
        train: TrainRef,
        items: Iterable[ManifestItem],
        schedule: Schedule,
        *,
        name: str | None = None,
        **options: Any,
    ) -> ScheduleBuilder:
        """One manifest per :class:`ManifestItem`, all on ``schedule``.

        Named (``name="extract"``): external ids are ``f"{name}-{item.id}"``, the group defaults
        to ``name``, and ``f"{name}-"`` becomes a prune prefix. Unnamed: each ``item.id`` is the
        full external id and each manifest is its own group unless ``group=`` is given. Items
        may not set ``depends_on``. Resets the root and the cursor.
        """
        opts = _options("schedule_many", options, dependent=False)
        timing = _timing_of(schedule)
        resolved = self._batch(
            "schedule_many", train, items, name, opts, parents=_no_parent, timing=lambda _: timing
        )
        self._commit(resolved, name=name)
        self._root = self._cursor = None
        return self

    def include_many(
        self,
        train: TrainRef,
        items: Iterable[ManifestItem],
        *,
        name: str | None = None,
        **options: Any,
    ) -> ScheduleBuilder:
        """One dependent manifest per item: ``item.depends_on`` is its parent, or the root when
        unset (batch fan-out from the last ``schedule``). Use it for first-level batch dependents,
        also right after ``schedule_many`` with explicit ``depends_on``.

        ``name`` works as in :meth:`schedule_many` (external id ``f"{name}-{item.id}"``, group
        ``name``, prune prefix ``f"{name}-"``); ``depends_on`` is always a full external id.
        An item without ``depends_on`` and no root: DeclarationOrderError naming the item.
        Resets the cursor (then_include cannot follow a batch); leaves the root.
        """
        opts = _options("include_many", options, dependent=True)
        root = self._root

        def parent(item: ManifestItem, external_id: str) -> str:
            if item.depends_on is not None:
                return item.depends_on
            if root is None:
                raise DeclarationOrderError(
                    f"include_many item {external_id!r} has no depends_on and there is no root "
                    "to fall back to: include_many without depends_on must follow schedule "
                    "(or schedule_once, manual)"
                )
            return root

        resolved = self._batch(
            "include_many",
            train,
            items,
            name,
            opts,
            parents=parent,
            timing=lambda _: _dependent_timing(opts),
        )
        self._commit(resolved, name=name)
        self._cursor = None
        return self

    def then_include_many(
        self,
        train: TrainRef,
        items: Iterable[ManifestItem],
        *,
        name: str | None = None,
        **options: Any,
    ) -> ScheduleBuilder:
        """One dependent manifest per item, each on its own ``item.depends_on`` (required on
        every item): deeper batch chains, e.g. ``load-i`` after ``transform-i``.

        ``name`` works as in :meth:`schedule_many`. An item without ``depends_on``:
        DeclarationOrderError naming the item. Resets the cursor; leaves the root.
        """
        opts = _options("then_include_many", options, dependent=True)

        def parent(item: ManifestItem, external_id: str) -> str:
            if item.depends_on is None:
                raise DeclarationOrderError(
                    f"then_include_many needs depends_on on every item; item {external_id!r} "
                    "has none"
                )
            return item.depends_on

        resolved = self._batch(
            "then_include_many",
            train,
            items,
            name,
            opts,
            parents=parent,
            timing=lambda _: _dependent_timing(opts),
        )
        self._commit(resolved, name=name)
        self._cursor = None
        return self

    # ── checks ───────────────────────────────────────────────────────────────────────────────

    def check(self) -> None:
        """Refuse dependency cycles between the declared manifests and between their groups
        (DependencyCycleError naming what is in the cycle). Within one builder ``include`` and
        ``then_include`` only point backwards, but ``*_many`` items may name a later declaration.
        """
        depends_on = {d.external_id: d.depends_on for d in self.declarations}
        group_of = {d.external_id: d.group_name for d in self.declarations}
        check_manifest_dependencies(depends_on)
        check_group_dependencies(depends_on, group_of)

    # ── internals ────────────────────────────────────────────────────────────────────────────

    def _declare(
        self,
        external_id: str,
        train: TrainRef,
        input: Any,
        timing: _Timing,
        depends_on: str | None,
        options: ScheduleOptions,
        default_group: str | None,
        *,
        train_class: type[Train[Any, Any]] | None = None,
        taken: Mapping[str, object] | None = None,
    ) -> ManifestDeclaration:
        _check_external_id(external_id)
        if external_id in self._by_id or (taken is not None and external_id in taken):
            raise ScheduleError(
                f"external id {external_id!r} is declared twice", field="external_id"
            )
        if depends_on is not None:
            _check_external_id(depends_on, field="depends_on")
            if depends_on == external_id:
                raise ScheduleError(f"{external_id!r} cannot depend on itself", field="depends_on")
        cls = train_class or resolve_train(train)
        train_name = cls.canonical_name()
        _, data = normalise(
            cls.input_type,
            input,
            what=f"input of {external_id!r} ({train_name})",
            max_bytes=get_settings().MAX_INPUT_BYTES,
        )
        group_name = options.group.name if options.group is not None else None
        return ManifestDeclaration(
            external_id=external_id,
            train_name=train_name,
            input=data,
            schedule_type=timing.schedule_type,
            interval_seconds=timing.interval_seconds,
            cron_expression=timing.cron_expression,
            run_at=timing.run_at,
            depends_on=depends_on,
            options=options,
            group_name=group_name or default_group or external_id,
        )

    def _batch(
        self,
        method: str,
        train: TrainRef,
        items: Iterable[ManifestItem],
        name: str | None,
        options: ScheduleOptions,
        *,
        parents: Callable[[ManifestItem, str], str | None],
        timing: Callable[[ManifestItem], _Timing],
    ) -> list[ManifestDeclaration]:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ScheduleError(
                f"{method} name must be a non-empty string; got {name!r}", field="name"
            )
        if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
            raise ScheduleError(
                f"{method} items must be an iterable of ManifestItem; got {items!r}",
                field="items",
            )
        cls = resolve_train(train)
        resolved: dict[str, ManifestDeclaration] = {}
        for index, item in enumerate(items):
            if not isinstance(item, ManifestItem):
                raise ScheduleError(
                    f"{method} item {index} must be a ManifestItem; got {item!r}", field="items"
                )
            if not isinstance(item.id, str) or not item.id.strip():
                raise ScheduleError(
                    f"{method} item {index} needs a non-empty string id; got {item.id!r}",
                    field="external_id",
                )
            external_id = item.id if name is None else f"{name}-{item.id}"
            declaration = self._declare(
                external_id,
                train,
                item.input,
                timing(item),
                parents(item, external_id),
                options,
                name,
                train_class=cls,
                taken=resolved,
            )
            resolved[external_id] = declaration
        return list(resolved.values())

    def _commit(self, declarations: list[ManifestDeclaration], *, name: str | None = None) -> None:
        for declaration in declarations:
            self.declarations.append(declaration)
            self._by_id[declaration.external_id] = declaration
        if name is not None:
            self.prune_prefixes.add(f"{name}-")


def _options(method: str, options: Mapping[str, Any], *, dependent: bool) -> ScheduleOptions:
    unknown = [key for key in options if key not in OPTION_NAMES]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, OPTION_NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScheduleError(
            f"{method}() got an unknown option {key!r}{hint}; "
            f"the options are: {', '.join(OPTION_NAMES)}",
            field=key,
        )
    dormant = options.get("dormant", False)
    if not isinstance(dormant, bool):
        raise ScheduleError(f"dormant must be True or False; got {dormant!r}", field="dormant")
    if dormant and not dependent:
        raise ScheduleError(
            f"dormant=True is only for dependents (include, then_include, include_many, "
            f"then_include_many), not {method}()",
            field="dormant",
        )
    return schedule_options(**options)


def _timing_of(schedule: object) -> _Timing:
    if isinstance(schedule, IntervalSchedule):
        return _Timing(ScheduleType.INTERVAL, interval_seconds=schedule.seconds)
    if isinstance(schedule, CronSchedule):
        return _Timing(ScheduleType.CRON, cron_expression=schedule.expression)
    raise ScheduleError(
        "schedule must be an interval (Every.minutes(5), ...) or a cron schedule "
        f"(Cron.daily(), ...); got {schedule!r}",
        field="schedule",
    )


def _dependent_timing(options: ScheduleOptions) -> _Timing:
    if options.dormant:
        return _Timing(ScheduleType.DORMANT_DEPENDENT)
    return _Timing(ScheduleType.DEPENDENT)


def _no_parent(item: ManifestItem, external_id: str) -> None:
    if item.depends_on is not None:
        raise ScheduleError(
            f"schedule_many item {external_id!r} sets depends_on; scheduled manifests have no "
            "parent (use include_many or then_include_many for dependents)",
            field="depends_on",
        )
    return None


def _check_external_id(value: object, *, field: str = "external_id") -> None:
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError(f"{field} must be a non-empty string; got {value!r}", field=field)
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        raise ScheduleError(
            f"{field} has at most {EXTERNAL_ID_MAX_LENGTH} characters; "
            f"{value[:40]!r}... has {len(value)}",
            field=field,
        )


#: The default builder a project's ``trains`` module declares into.
schedules = ScheduleBuilder()


def reset_default_builder() -> None:
    """Empty the default builder (for tests); ``schedules`` stays the same object."""
    schedules.reset()
