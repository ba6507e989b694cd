-- The store's hot-path statements on SQLite (see trax/store/queries.py). SQLite has one writer
-- at a time, so a step may take two statements inside one transaction; `{ids}` stands for a
-- list of placeholders the caller fills in.

-- name: background_job_claim
UPDATE trax_background_job SET claimed_by = %s, claim_token = %s,
    lease_expires_at = STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW', %s)
WHERE id IN (
    SELECT id FROM trax_background_job WHERE claimed_by IS NULL
    ORDER BY priority DESC, id LIMIT %s
)
RETURNING id, metadata_id

-- name: metadata_start_claimed
UPDATE trax_metadata SET train_state = 'in_progress',
    start_time = STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW'), executor = %s,
    host_name = %s, host_environment = %s, host_instance_id = %s, host_labels = %s
WHERE id IN ({ids}) AND train_state = 'pending'
RETURNING id, name, input, external_id, manifest_id, parent_id, attempt, work_queue_id,
    (JULIANDAY('now') - JULIANDAY(COALESCE(scheduled_time, created_at))) * 86400.0, trace_parent

-- name: rollup_fold_bound
-- The next batch of finished runs past the watermark, (end_time, id) order, ended before the
-- settled point (parameters: after_end, after_end, after_id, before, limit): how many, and the
-- last one's (end_time, id) as stored (text: the watermark compares as the index does).
WITH batch AS MATERIALIZED (
    SELECT end_time, id FROM trax_metadata
    WHERE end_time >= %s AND (end_time, id) > (%s, %s) AND end_time < %s
    ORDER BY end_time, id
    LIMIT %s
), last AS (
    SELECT end_time, id FROM batch ORDER BY end_time DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM batch), CAST(last.end_time AS TEXT), last.id FROM last

-- name: rollup_fold
-- Fold the runs of that batch (parameters: after_end, after_end, after_id, last_end, last_id,
-- minute_since) into their minute and hour buckets, under their train and (but housekeeping)
-- under train '' (all trains), with each duration's histogram slot (trax.models.rollup's
-- DURATION_BOUNDS); see the PostgreSQL query of that name.
INSERT INTO trax_run_rollup (bucket_seconds, bucket, train, outcome, runs, started,
    duration_total, duration_max, wait_total, wait_max,
    d00, d01, d02, d03, d04, d05, d06, d07,
    d08, d09, d10, d11, d12, d13, d14, d15)
SELECT spans.seconds,
    CASE spans.seconds WHEN 60 THEN STRFTIME('%%Y-%%m-%%d %%H:%%M:00', run.end_time)
        ELSE STRFTIME('%%Y-%%m-%%d %%H:00:00', run.end_time) END,
    CASE sets.total WHEN 0 THEN run.name ELSE '' END, run.train_state, count(*),
    count(run.duration), COALESCE(sum(run.duration), 0), max(run.duration),
    COALESCE(sum(run.wait), 0), max(run.wait),
    count(CASE slot WHEN 0 THEN 1 END), count(CASE slot WHEN 1 THEN 1 END),
    count(CASE slot WHEN 2 THEN 1 END), count(CASE slot WHEN 3 THEN 1 END),
    count(CASE slot WHEN 4 THEN 1 END), count(CASE slot WHEN 5 THEN 1 END),
    count(CASE slot WHEN 6 THEN 1 END), count(CASE slot WHEN 7 THEN 1 END),
    count(CASE slot WHEN 8 THEN 1 END), count(CASE slot WHEN 9 THEN 1 END),
    count(CASE slot WHEN 10 THEN 1 END), count(CASE slot WHEN 11 THEN 1 END),
    count(CASE slot WHEN 12 THEN 1 END), count(CASE slot WHEN 13 THEN 1 END),
    count(CASE slot WHEN 14 THEN 1 END), count(CASE slot WHEN 15 THEN 1 END)
FROM (
    SELECT timed.*, CASE WHEN duration IS NULL THEN NULL
        WHEN duration < 0.01 THEN 0 WHEN duration < 0.025 THEN 1 WHEN duration < 0.05 THEN 2
        WHEN duration < 0.1 THEN 3 WHEN duration < 0.25 THEN 4 WHEN duration < 0.5 THEN 5
        WHEN duration < 1.0 THEN 6 WHEN duration < 2.5 THEN 7 WHEN duration < 5.0 THEN 8
        WHEN duration < 10.0 THEN 9 WHEN duration < 30.0 THEN 10 WHEN duration < 60.0 THEN 11
        WHEN duration < 300.0 THEN 12 WHEN duration < 900.0 THEN 13 WHEN duration < 3600.0 THEN 14
        ELSE 15 END AS slot
    FROM (
        -- scalar max() is NULL when an argument is: a run that never started has no duration.
        SELECT run.name, run.train_state, run.end_time,
            max((julianday(run.end_time) - julianday(run.start_time)) * 86400.0, 0) AS duration,
            max((julianday(run.start_time) - julianday(COALESCE(
                run.scheduled_time, entry.created_at, run.created_at))) * 86400.0, 0) AS wait
        FROM trax_metadata AS run
        LEFT JOIN trax_work_queue AS entry ON entry.id = run.work_queue_id
        WHERE run.end_time >= %s AND (run.end_time, run.id) > (%s, %s)
            AND (run.end_time, run.id) <= (%s, %s)
            AND run.train_state IN ('completed', 'failed', 'cancelled')
    ) AS timed
) AS run
CROSS JOIN (SELECT 60 AS seconds UNION ALL SELECT 3600) AS spans
CROSS JOIN (SELECT 0 AS total UNION ALL SELECT 1) AS sets
WHERE (spans.seconds = 3600 OR run.end_time >= %s)
    AND (sets.total = 0 OR substr(run.name, 1, 5) <> 'trax.')
GROUP BY 1, 2, 3, 4
ON CONFLICT (bucket_seconds, bucket, train, outcome) DO UPDATE SET
    runs = runs + excluded.runs,
    started = started + excluded.started,
    duration_total = duration_total + excluded.duration_total,
    duration_max = max(COALESCE(duration_max, excluded.duration_max),
                       COALESCE(excluded.duration_max, duration_max)),
    wait_total = wait_total + excluded.wait_total,
    wait_max = max(COALESCE(wait_max, excluded.wait_max), COALESCE(excluded.wait_max, wait_max)),
    d00 = d00 + excluded.d00,
    d01 = d01 + excluded.d01,
    d02 = d02 + excluded.d02,
    d03 = d03 + excluded.d03,
    d04 = d04 + excluded.d04,
    d05 = d05 + excluded.d05,
    d06 = d06 + excluded.d06,
    d07 = d07 + excluded.d07,
    d08 = d08 + excluded.d08,
    d09 = d09 + excluded.d09,
    d10 = d10 + excluded.d10,
    d11 = d11 + excluded.d11,
    d12 = d12 + excluded.d12,
    d13 = d13 + excluded.d13,
    d14 = d14 + excluded.d14,
    d15 = d15 + excluded.d15

-- name: rollup_series
-- See the PostgreSQL query of that name (parameters: train, width, first, until).
SELECT CAST(STRFTIME('%%s', bucket) AS INTEGER),
    sum(CASE WHEN outcome = 'completed' THEN runs ELSE 0 END),
    sum(CASE WHEN outcome = 'failed' THEN runs ELSE 0 END),
    sum(CASE WHEN outcome = 'cancelled' THEN runs ELSE 0 END),
    sum(started), sum(duration_total), max(duration_max), sum(wait_total), max(wait_max)
FROM trax_run_rollup
WHERE train = %s AND bucket_seconds = %s AND bucket >= %s AND bucket < %s
GROUP BY bucket

-- name: rollup_series_every_train
-- See the PostgreSQL query of that name (parameters: width, first, until).
SELECT CAST(STRFTIME('%%s', bucket) AS INTEGER),
    sum(CASE WHEN outcome = 'completed' THEN runs ELSE 0 END),
    sum(CASE WHEN outcome = 'failed' THEN runs ELSE 0 END),
    sum(CASE WHEN outcome = 'cancelled' THEN runs ELSE 0 END),
    sum(started), sum(duration_total), max(duration_max), sum(wait_total), max(wait_max)
FROM trax_run_rollup
WHERE train <> '' AND bucket_seconds = %s AND bucket >= %s AND bucket < %s
GROUP BY bucket
