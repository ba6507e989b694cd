"""Per-manifest and per-group scheduling options, validated where they are declared."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from trax.models import MisfirePolicy
from trax.models.choices import PRIORITY_MAX, PRIORITY_MIN
from trax.scheduling.errors import ScheduleError

Seconds = int | float | timedelta


@dataclass(frozen=True)
class Group:
    """A manifest group: a concurrency cap (None = none), priority 0-31, and a switch."""

    name: str
    max_active_jobs: int | None = None
    priority: int = 0
    is_enabled: bool = True
    # False when only the name was given: the database keeps the group's current settings.
    declares_settings: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScheduleError("a group needs a non-empty name", field="group")
        if len(self.name) > 255:
            raise ScheduleError("a group name has at most 255 characters", field="group")
        check_priority(self.priority, field="group.priority")
        if self.max_active_jobs is not None and (
            not _is_int(self.max_active_jobs) or self.max_active_jobs < 1
        ):
            raise ScheduleError(
                f"group max_active_jobs must be an int >= 1 or None; got {self.max_active_jobs!r}",
                field="group.max_active_jobs",
            )
        if not isinstance(self.is_enabled, bool):
            raise ScheduleError("group is_enabled must be True or False", field="group.is_enabled")


@dataclass(frozen=True)
class ScheduleOptions:
    """Options of one manifest. Durations are whole seconds (a timedelta is accepted)."""

    group: Group | None = None
    priority: int = 0
    is_enabled: bool = True
    max_retries: int | None = None
    retry_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    misfire_policy: MisfirePolicy = MisfirePolicy.FIRE_ONCE_NOW
    misfire_threshold_seconds: int | None = None
    variance_seconds: int | None = None
    timezone: str | None = None
    dormant: bool = False
    extra: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_priority(self.priority, field="priority")
        if not isinstance(self.is_enabled, bool):
            raise ScheduleError("is_enabled must be True or False", field="is_enabled")
        for name in (
            "max_retries",
            "retry_delay_seconds",
            "timeout_seconds",
            "misfire_threshold_seconds",
            "variance_seconds",
        ):
            value = getattr(self, name)
            if value is None:
                continue
            most = MAX_RETRIES if name == "max_retries" else MAX_SCHEDULE_SECONDS
            if not _is_int(value) or not 0 <= value <= most:
                raise ScheduleError(
                    f"{name} must be an int from 0 to {most}; got {value!r}", field=name
                )
        if self.timeout_seconds == 0:
            raise ScheduleError(
                "timeout_seconds must be > 0 (None = the default)", field="timeout_seconds"
            )
        if self.misfire_policy not in MisfirePolicy.values:
            raise ScheduleError(
                f"misfire_policy must be one of {MisfirePolicy.values}; "
                f"got {self.misfire_policy!r}",
                field="misfire_policy",
            )
        if self.timezone is not None:
            from trax.scheduling.schedules import check_timezone

            check_timezone(self.timezone)


def schedule_options(
    *,
    group: Group | str | None = None,
    priority: int = 0,
    enabled: bool = True,
    max_retries: int | None = None,
    retry_delay: Seconds | None = None,
    timeout: Seconds | None = None,
    misfire_policy: MisfirePolicy | str = MisfirePolicy.FIRE_ONCE_NOW,
    misfire_threshold: Seconds | None = None,
    variance: Seconds | None = None,
    timezone: str | None = None,
    dormant: bool = False,
) -> ScheduleOptions:
    """Build ScheduleOptions from the keyword arguments every schedule call accepts."""
    return ScheduleOptions(
        group=Group(group, declares_settings=False) if isinstance(group, str) else group,
        priority=priority,
        is_enabled=enabled,
        max_retries=max_retries,
        retry_delay_seconds=to_seconds(retry_delay, field="retry_delay"),
        timeout_seconds=to_seconds(timeout, field="timeout"),
        misfire_policy=misfire_policy,  # type: ignore[arg-type]
        misfire_threshold_seconds=to_seconds(misfire_threshold, field="misfire_threshold"),
        variance_seconds=to_seconds(variance, field="variance"),
        timezone=timezone,
        dormant=dormant,
    )


#: Most retries a manifest or a one-off may ask for; more is a loop, not a policy.
MAX_RETRIES = 1000
#: Longest duration an option may give (ten years), so times stay in the calendar.
MAX_SCHEDULE_SECONDS = 10 * 365 * 24 * 3600


def to_seconds(value: Seconds | None, *, field: str) -> int | None:
    """Whole seconds from an int or a timedelta; fractions and negatives are refused."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        total = value.total_seconds()
        if total != int(total):
            raise ScheduleError(f"{field} must be whole seconds; got {value}", field=field)
        value = int(total)
    if not _is_int(value) or value < 0:
        raise ScheduleError(f"{field} must be whole seconds >= 0; got {value!r}", field=field)
    return int(value)


def check_priority(value: object, *, field: str) -> None:
    """Priorities are ints from 0 to 31."""
    if not _is_int(value) or not PRIORITY_MIN <= value <= PRIORITY_MAX:  # type: ignore[operator]
        raise ScheduleError(
            f"{field} must be an int from {PRIORITY_MIN} to {PRIORITY_MAX}; got {value!r}",
            field=field,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
