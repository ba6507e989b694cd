"""Rollups: how many runs finished per minute and per hour, per train and outcome, with their
total and longest duration and queue wait — so the console's counts and charts, and metrics,
read a few rows per bucket and never ``trax_metadata`` (docs/rollups.md).

What a bucket counts
    A run is counted once it is ``completed``, ``failed`` or ``cancelled``, in the bucket its
    ``end_time`` falls in (UTC). Its duration is ``end_time - start_time``; its queue wait is
    ``start_time`` minus when it was due: its ``scheduled_time`` (a schedule's occurrence, a
    retry's or a delayed enqueue's due time), else when its work was queued (the work entry's
    ``created_at``), else when the run was made. A run that never started (cancelled while
    pending, failed stale or undispatched) counts in ``runs`` but not in ``started``, and has
    neither. Each run is added to its train's row and to the all-trains row (train ``''``), so
    an overview's chart reads one row per bucket and outcome however many trains there are.
    Housekeeping runs (``trax.*``, written only when a cycle fails) are kept apart: under their
    own names, never in the all-trains row; the reads leave them out unless asked.

Who writes them, and why so
    The manager folds finished runs in, a batch per transaction (``rollup_fold``), rather than
    the statements that finish runs: an upsert per completion would make every worker finishing
    the same train in the same minute queue on one row lock, and a journal row per finished run
    (an outbox the fold drains: exact, but one more row and index entry on the hot path per
    run) costs the queue's writes what this costs one manager statement per cycle. A "folded"
    flag on the run would be a fourth, non-HOT write of every run. The fold reads
    ``trax_metadata_end_time_idx`` (every finished run is in it) from a watermark on:
    the cost follows the runs finished since the last cycle, not the history.

Exactly once
    The watermark is a keyset, ``(end_time, id)``: every run at or before it is in the
    rollups, none after it. A batch — lock the one ``trax_run_rollup_watermark`` row, fold the
    next runs in keyset order into their buckets (``INSERT ... ON CONFLICT DO UPDATE`` adding
    to them), move the watermark to the last run folded — is one transaction: a crash between
    its statements undoes all of it, and the next batch starts from the same watermark. Two
    schedulers cannot both fold a run: on PostgreSQL the second finds the row locked (``SKIP
    LOCKED``) and leaves the batch to the first; on SQLite the fold holds the write lock.

Late commits: the settled point
    ``end_time`` is stamped when the finishing statement starts, and the transaction may
    commit later (a completion batch waiting on a lock; a run finished inside a caller's
    transaction, which commits when that does). A watermark that passed such a run's
    ``end_time`` before it committed would skip it forever; neither a lag margin (a guess at
    how late is late) nor a sequence (assigned before commit too) settles that. So the fold
    only goes up to ``settled_before``: a time before which no run can still end uncommitted.
    A run that ends before time T was finished by a transaction open at T (it began before its
    statement did) or committed already; so once every transaction open at T has ended, every
    run ending before T is visible, and T is settled.

    PostgreSQL: each batch records a checkpoint — the database's time T and the virtual
    transaction ids then open (``pg_locks``: every transaction holds its own, whatever role it
    runs as) — and a later batch that finds none of them open any more settles T. When no
    transaction is open at T the point settles at once; else, normally, a cycle later (the
    rollups trail the clock by a cycle, 5 s by default). Left out: other databases,
    autovacuum (no user), sessions idle in a transaction that has written nothing (their next
    write is stamped after T) or that failed. A transaction of the checkpoint that has written
    nothing (no ``backend_xid``) stops holding it once the statement it ran at T is over: a
    long read-only transaction (``pg_dump``) holds the rollups back a statement at a time, not
    for its whole length. A session this role cannot see into (another role, without
    ``pg_read_all_stats``) holds until its transaction ends: safe, only later. A transaction
    that wrote and stays open holds the rollups back while it lasts (as it holds back
    vacuum): ``idle_in_transaction_session_timeout`` bounds that. Two-phase commit is not
    accounted for (Django does not use it).

    SQLite: the fold holds the write lock, so no other transaction has an uncommitted write:
    the settled point is the database's time.

    Either way the settled point is moved back by ``settle_seconds`` (1 s): the statement's
    time is taken a moment before a new transaction's id is published, and a clock step of
    the database's host stays within it.

Percentiles
    Sums and maxima cannot give a median or p95. The console's slowest-trains view ranks by
    mean (``duration_total / started``) and shows the maximum. A fixed histogram per row could
    only place a percentile within its bucket's width — a factor of 10 with a handful of
    columns, which would not rank trains; fine buckets would multiply the row's width. A
    train's exact percentiles are a question for its runs, not for the rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import Max, Sum

from trax.models import RollupWatermark, RunRollup
from trax.models.rollup import DURATION_BOUNDS, DURATION_SLOTS, HOUR, MINUTE
from trax.store.alias import run_records_alias
from trax.store.queries import execute_named, query

#: Runs per fold transaction, and transactions per call (a backlog drains over cycles).
FOLD_BATCH = 10_000
FOLD_MAX_BATCHES = 10
#: Runs ending within this of the settled point wait for the next fold (see the module).
SETTLE_SECONDS = 1.0
#: The most buckets one series may have.
MAX_POINTS = 50_000
#: Runs of trax's own trains (the reads leave them out unless asked).
HOUSEKEEPING_PREFIX = "trax."

_WATERMARK_ID = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WIDTHS = {"minute": MINUTE, "hour": HOUR}


# ── the fold ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Folded:
    """What one call folded: runs, in how many transactions; ``busy`` when another process
    held the watermark (it folds them instead)."""

    runs: int = 0
    batches: int = 0
    busy: bool = False


def rollup_fold(
    *,
    start_after: datetime | None = None,
    minute_since: datetime | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    batch_size: int = FOLD_BATCH,
    max_batches: int = FOLD_MAX_BATCHES,
    using: str,
) -> Folded:
    """Fold the runs finished since the last fold into the minute and hour rollups, at most
    ``max_batches`` transactions of ``batch_size`` runs. ``start_after``: where the very first
    fold starts (runs ending earlier are never counted; None: every run); ``minute_since``:
    runs ending earlier only enter hour buckets (their minutes are past keeping)."""
    connection = connections[using]
    batch = _fold_postgresql if connection.vendor == "postgresql" else _fold_sqlite
    start = start_after or _EPOCH
    minutes_from = minute_since or _EPOCH
    settle = timedelta(seconds=settle_seconds)
    runs = batches = 0
    while batches < max_batches:
        with transaction.atomic(using=using):
            folded = batch(connection, start, minutes_from, settle, batch_size)
        if folded is None:
            return Folded(runs, batches, busy=True)
        runs, batches = runs + folded, batches + 1
        if folded < batch_size:
            break
    return Folded(runs, batches)


def _fold_postgresql(
    connection: Any, start: datetime, minute_since: datetime, settle: timedelta, limit: int
) -> int | None:
    """One batch; None when another process holds the watermark."""
    using = connection.alias
    rows = RollupWatermark.objects.using(using)
    mark = rows.select_for_update(skip_locked=True).filter(id=_WATERMARK_ID).first()
    if mark is None:
        mark = _create_watermark(connection, start)
        if mark is None:
            return None
    settled, checkpoint_at = mark.settled_before, mark.checkpoint_at
    checkpoint = list(mark.checkpoint_transactions or [])
    with connection.cursor() as cursor:  # read pg_stat_activity afresh, not this transaction's
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    ((now, waiting, open_now),) = execute_named(
        connection,
        "rollup_checkpoint",
        {"waiting_on": checkpoint, "checkpoint_at": checkpoint_at or _EPOCH},
    )
    if checkpoint_at is not None and not waiting:
        settled = max(settled, checkpoint_at - settle)
        checkpoint_at, checkpoint = None, []
    if not open_now:
        settled = max(settled, now - settle)
        checkpoint_at, checkpoint = None, []
    elif checkpoint_at is None:
        checkpoint_at, checkpoint = now, list(open_now)
    # A new statement, so a new snapshot: it sees every transaction that ended before the
    # checkpoint's read (the order matters; one statement would see only what ended before it).
    ((count, last_end, last_id),) = execute_named(
        connection,
        "rollup_fold",
        {
            "after_end": mark.folded_end_time,
            "after_id": mark.folded_run_id,
            "before": settled,
            "limit": limit,
            "minute_since": minute_since,
            "bounds": list(DURATION_BOUNDS),
        },
    )
    folded_end, folded_id = _advance(
        (mark.folded_end_time, mark.folded_run_id), count, limit, (last_end, last_id), settled
    )
    rows.filter(id=_WATERMARK_ID).update(
        folded_end_time=folded_end,
        folded_run_id=folded_id,
        settled_before=settled,
        checkpoint_at=checkpoint_at,
        checkpoint_transactions=checkpoint,
    )
    return int(count)


def _advance(
    mark: tuple[Any, int], count: int, limit: int, last: tuple[Any, Any], settled: Any
) -> tuple[Any, int]:
    """The watermark after a batch: the last run folded when the batch was full (more may
    follow, at that very time too); else the settled point itself, ``(settled, 0)``: every run
    ending before it is folded. Never backwards (a clock stepped back folds nothing)."""
    after = (last[0], int(last[1])) if count >= limit else (settled, 0)
    return max(after, mark)


def _create_watermark(connection: Any, start: datetime) -> RollupWatermark | None:
    """The watermark row, made by the first fold (locked by its insert until commit); None
    when another process made it first and holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO trax_run_rollup_watermark (id, folded_end_time, folded_run_id, "
            "settled_before, checkpoint_transactions) VALUES (%s, %s, 0, %s, %s) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            [_WATERMARK_ID, start, start, "[]"],
        )
        if cursor.fetchone() is None:
            return None
    return RollupWatermark(id=_WATERMARK_ID, folded_end_time=start, settled_before=start)


def _fold_sqlite(
    connection: Any, start: datetime, minute_since: datetime, settle: timedelta, limit: int
) -> int:
    """One batch under the write lock (the insert takes it, whatever the transaction mode).
    Times stay the text SQLite stores and compares, never round-tripped through Python."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO trax_run_rollup_watermark (id, folded_end_time, folded_run_id, "
            "settled_before, checkpoint_transactions) VALUES (%s, %s, 0, %s, %s) "
            "ON CONFLICT (id) DO NOTHING",
            [_WATERMARK_ID, adapt(start), adapt(start), "[]"],
        )
        cursor.execute(
            "SELECT CAST(folded_end_time AS TEXT), folded_run_id, "
            "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %s) "
            "FROM trax_run_rollup_watermark WHERE id = %s",
            [f"-{settle.total_seconds():.6f} seconds", _WATERMARK_ID],
        )
        after_end, after_id, settled = cursor.fetchone()
        cursor.execute(
            query("sqlite", "rollup_fold_bound"), [after_end, after_end, after_id, settled, limit]
        )
        row = cursor.fetchone()
        count, last_end, last_id = row if row is not None else (0, None, None)
        if count:
            cursor.execute(
                query("sqlite", "rollup_fold"),
                [after_end, after_end, after_id, last_end, last_id, adapt(minute_since)],
            )
        new_end, new_id = _advance(
            (after_end, after_id), count, limit, (last_end, last_id), settled
        )
        cursor.execute(
            "UPDATE trax_run_rollup_watermark SET folded_end_time = %s, folded_run_id = %s, "
            "settled_before = %s WHERE id = %s",
            [new_end, new_id, max(settled, new_end), _WATERMARK_ID],
        )
    return int(count)


# ── the reads ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class RunStats:
    """Finished runs of a bucket (or a range): by outcome, and of those that started, the total
    and longest duration and queue wait, in seconds."""

    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    started: int = 0
    duration_total: float = 0.0
    duration_max: float | None = None
    wait_total: float = 0.0
    wait_max: float | None = None
    histogram: tuple[int, ...] = ()
    """Started runs per duration slot (``DURATION_BOUNDS``); empty where not read."""

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.cancelled

    @property
    def mean_duration(self) -> float | None:
        return self.duration_total / self.started if self.started else None

    @property
    def mean_wait(self) -> float | None:
        return self.wait_total / self.started if self.started else None

    @property
    def p50_duration(self) -> float | None:
        return self.duration_percentile(0.50)

    @property
    def p95_duration(self) -> float | None:
        return self.duration_percentile(0.95)

    def duration_percentile(self, fraction: float) -> float | None:
        """The duration ``fraction`` of the started runs stay under, estimated from the
        histogram: linear within the slot it falls in (the last slot ends at the longest run);
        None without a histogram."""
        counted = sum(self.histogram)
        if not counted:
            return None
        rank = fraction * counted
        seen = 0
        for slot, count in enumerate(self.histogram):
            if count and seen + count >= rank:
                low = DURATION_BOUNDS[slot - 1] if slot else 0.0
                high = DURATION_BOUNDS[slot] if slot < len(DURATION_BOUNDS) else None
                longest = self.duration_max
                if high is None or (longest is not None and longest < high):
                    high = max(longest if longest is not None else low, low)
                return low + (high - low) * (rank - seen) / count
            seen += count
        return self.duration_max


@dataclass(frozen=True)
class RollupPoint:
    start: datetime
    stats: RunStats


@dataclass(frozen=True)
class RollupSeries:
    """One point per bucket from the first to the last, empty buckets included (zeros).
    ``complete_before``: every run that ended before it is counted; later buckets may still
    grow (None: nothing folded yet)."""

    bucket_seconds: int
    points: tuple[RollupPoint, ...]
    complete_before: datetime | None


def rollup_series(
    since: datetime,
    until: datetime,
    *,
    bucket: str = "minute",
    train: str | None = None,
    include_housekeeping: bool = False,
    using: str | None = None,
) -> RollupSeries:
    """Finished runs per bucket (``"minute"`` or ``"hour"``) from the bucket holding ``since``
    up to ``until`` (exclusive; the bucket holding it is included, partial), of one ``train``
    or of all (housekeeping left out unless ``include_housekeeping``). Reads only rollups: of
    all trains, the all-trains rows (one per bucket and outcome, however many trains)."""
    alias = using or run_records_alias()
    width = _width(bucket)
    first = _floor(since, width)
    starts = _starts(first, until, width)
    every = train is None and include_housekeeping
    rows = _series_rows(alias, width, first, until, ALL_TRAINS if train is None else train, every)
    # epoch, completed, failed, cancelled, started, duration total, max, wait total, max
    stats = {
        int(row[0]): RunStats(
            int(row[1]),
            int(row[2]),
            int(row[3]),
            int(row[4] or 0),
            float(row[5] or 0.0),
            row[6],
            float(row[7] or 0.0),
            row[8],
        )
        for row in rows
    }
    empty = RunStats()
    points = tuple(RollupPoint(start, stats.get(int(start.timestamp()), empty)) for start in starts)
    return RollupSeries(width, points, _complete_before(alias))


def _series_rows(
    alias: str, width: int, first: datetime, until: datetime, train: str, every: bool
) -> list[tuple[Any, ...]]:
    """One row per bucket (epoch seconds first): a named query, not the ORM, as a day of
    minutes is 1,440 rows and parsing their timestamps would cost more than the read."""
    connection = connections[alias]
    name = "rollup_series_every_train" if every else "rollup_series"
    if connection.vendor == "postgresql":
        params = {"train": train, "width": width, "first": first, "until": until}
        return execute_named(connection, name, params)
    adapt = connection.ops.adapt_datetimefield_value
    positional = [width, adapt(first), adapt(until)]
    with connection.cursor() as cursor:
        cursor.execute(query("sqlite", name), positional if every else [train, *positional])
        return list(cursor.fetchall())


def rollup_by_train(
    since: datetime,
    until: datetime,
    *,
    bucket: str = "hour",
    include_housekeeping: bool = False,
    using: str | None = None,
) -> dict[str, RunStats]:
    """Finished runs per train over the buckets of ``bucket`` from the one holding ``since`` up
    to ``until`` (as ``rollup_series``), by train name. Hour buckets read 60 times fewer rows;
    minute buckets keep to the minute. For an overview's table, or the slowest trains (by
    ``mean_duration``, with ``duration_max``)."""
    alias = using or run_records_alias()
    width = _width(bucket)
    rows = _rollups(alias, width, _floor(since, width), until).exclude(train=ALL_TRAINS)
    if not include_housekeeping:
        rows = rows.exclude(train__startswith=HOUSEKEEPING_PREFIX)
    stats = _add_up(rows.values("train", "outcome").annotate(**_SUMS).order_by(), "train")
    return dict(sorted(stats.items()))


#: The rollups' train of all trains but housekeeping (a train's name is never empty).
ALL_TRAINS = ""

_SUMS = {
    "runs": Sum("runs"),
    "started": Sum("started"),
    "duration_total": Sum("duration_total"),
    "duration_max": Max("duration_max"),
    "wait_total": Sum("wait_total"),
    "wait_max": Max("wait_max"),
    **{slot: Sum(slot) for slot in DURATION_SLOTS},
}
_OUTCOME_FIELD = {"completed": 0, "failed": 1, "cancelled": 2}


def _add_up(rows: Iterable[Mapping[str, Any]], key: str) -> dict[Any, RunStats]:
    """Aggregates (one per ``key`` and outcome) added up per ``key``, as RunStats: plain lists
    while adding (a read may add thousands)."""
    totals: dict[Any, list[Any]] = {}
    for row in rows:
        total = totals.get(row[key])
        if total is None:
            total = totals[row[key]] = [0, 0, 0, 0, 0.0, None, 0.0, None, [0] * _SLOTS]
        total[_OUTCOME_FIELD[row["outcome"]]] += int(row["runs"] or 0)
        total[3] += int(row["started"] or 0)
        total[4] += float(row["duration_total"] or 0.0)
        total[5] = _larger(total[5], row["duration_max"])
        total[6] += float(row["wait_total"] or 0.0)
        total[7] = _larger(total[7], row["wait_max"])
        for slot, name in enumerate(DURATION_SLOTS):
            total[8][slot] += int(row.get(name) or 0)
    return {name: _stats(total) for name, total in totals.items()}


def _stats(total: list[Any]) -> RunStats:
    completed, failed, cancelled, started, duration, longest, wait, wait_max, slots = total
    return RunStats(
        completed, failed, cancelled, started, duration, longest, wait, wait_max, tuple(slots)
    )


_SLOTS = len(DURATION_SLOTS)


def _larger(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _rollups(alias: str, width: int, first: datetime, until: datetime) -> Any:
    return RunRollup.objects.using(alias).filter(
        bucket_seconds=width, bucket__gte=first, bucket__lt=until
    )


def _width(bucket: str) -> int:
    try:
        return _WIDTHS[bucket]
    except KeyError:
        raise ValueError(f"bucket must be 'minute' or 'hour'; got {bucket!r}") from None


def _floor(moment: datetime, width: int) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"give an aware datetime, not {moment!r}")
    seconds = int(moment.timestamp()) // width * width
    return datetime.fromtimestamp(seconds, tz=UTC)


def _starts(first: datetime, until: datetime, width: int) -> list[datetime]:
    count = max(0, -(-int((until - first).total_seconds()) // width))
    if count > MAX_POINTS:
        raise ValueError(
            f"{count} buckets of {width} s asked for; at most {MAX_POINTS} (use hour buckets)"
        )
    return [first + timedelta(seconds=width * n) for n in range(count)]


def _complete_before(alias: str) -> datetime | None:
    mark = (
        RollupWatermark.objects.using(alias)
        .filter(id=_WATERMARK_ID)
        .values_list("folded_end_time", flat=True)
        .first()
    )
    return mark.astimezone(UTC) if mark is not None else None
