from django.db import models

from trax.models.choices import TrainState

#: The widths of the buckets rollups are kept in (seconds).
MINUTE, HOUR = 60, 3600

#: Where the duration histogram's slots part (seconds): slot 0 counts runs shorter than the
#: first bound, slot i those from bound i-1 up to bound i, the last one those of an hour or more.
DURATION_BOUNDS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)
#: The histogram's columns, slot by slot.
DURATION_SLOTS = tuple(f"d{slot:02d}" for slot in range(len(DURATION_BOUNDS) + 1))

OUTCOMES = [
    (TrainState.COMPLETED.value, TrainState.COMPLETED.label),
    (TrainState.FAILED.value, TrainState.FAILED.label),
    (TrainState.CANCELLED.value, TrainState.CANCELLED.label),
]


class RunRollup(models.Model):
    """The finished runs of one train with one outcome whose end fell in one bucket (a minute
    or an hour, UTC): how many, how long they ran and how long they waited to start. Train
    ``''`` adds up every train but housekeeping (``trax.*``). Written only by the manager's fold
    (docs/rollups.md); the console and metrics read these, never ``trax_metadata``."""

    bucket_seconds = models.PositiveIntegerField(
        choices=[(MINUTE, "minute"), (HOUR, "hour")], help_text="The bucket's width."
    )
    bucket = models.DateTimeField(help_text="The bucket's start (UTC).")
    train = models.CharField(max_length=255, blank=True, help_text="'': all trains.")
    outcome = models.CharField(max_length=16, choices=OUTCOMES)
    runs = models.BigIntegerField(default=0, help_text="Runs that ended in the bucket.")
    started = models.BigIntegerField(
        default=0, help_text="Those of them that had started (the others have no duration)."
    )
    duration_total = models.FloatField(default=0.0, help_text="Seconds, start to end.")
    duration_max = models.FloatField(null=True, blank=True)
    wait_total = models.FloatField(default=0.0, help_text="Seconds from due to start.")
    wait_max = models.FloatField(null=True, blank=True)
    # The started runs' durations as a histogram over DURATION_BOUNDS (for percentiles).
    d00 = models.BigIntegerField(default=0)
    d01 = models.BigIntegerField(default=0)
    d02 = models.BigIntegerField(default=0)
    d03 = models.BigIntegerField(default=0)
    d04 = models.BigIntegerField(default=0)
    d05 = models.BigIntegerField(default=0)
    d06 = models.BigIntegerField(default=0)
    d07 = models.BigIntegerField(default=0)
    d08 = models.BigIntegerField(default=0)
    d09 = models.BigIntegerField(default=0)
    d10 = models.BigIntegerField(default=0)
    d11 = models.BigIntegerField(default=0)
    d12 = models.BigIntegerField(default=0)
    d13 = models.BigIntegerField(default=0)
    d14 = models.BigIntegerField(default=0)
    d15 = models.BigIntegerField(default=0)

    class Meta:
        db_table = "trax_run_rollup"
        verbose_name = "run rollup"
        constraints = [
            models.UniqueConstraint(
                fields=["bucket_seconds", "bucket", "train", "outcome"],
                name="trax_run_rollup_key",
            ),
        ]
        indexes = [
            # One train's series; the key serves the all-trains reads and the retention.
            models.Index(
                fields=["train", "bucket_seconds", "bucket"], name="trax_run_rollup_train_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.train} {self.outcome} @ {self.bucket:%Y-%m-%d %H:%M} ({self.runs})"


class RollupWatermark(models.Model):
    """The fold's one row: which runs are already in the rollups, and up to when every run
    that will ever end is already committed (docs/rollups.md, trax/store/rollups.py)."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    folded_end_time = models.DateTimeField(
        help_text="With folded_run_id: every run at or before (end_time, id) is folded."
    )
    folded_run_id = models.BigIntegerField(default=0)
    settled_before = models.DateTimeField(
        help_text="No run ending before this can still be committed: the fold stops here."
    )
    checkpoint_at = models.DateTimeField(null=True, blank=True)
    checkpoint_transactions = models.JSONField(
        default=list,
        blank=True,
        help_text="Virtual transaction ids open at checkpoint_at (PostgreSQL): once none is, "
        "settled_before may move up to checkpoint_at.",
    )

    class Meta:
        db_table = "trax_run_rollup_watermark"

    def __str__(self) -> str:
        return f"folded to {self.folded_end_time} #{self.folded_run_id}"
