-- The store's hot-path statements on PostgreSQL (see trax/store/queries.py).
-- Each is one statement: run in autocommit it is one round trip and one commit.

-- name: background_job_claim
-- Pick and lock free jobs (MATERIALIZED, so the LIMIT holds), start their runs still pending
-- (the guarded pending -> in_progress), claim the jobs of the runs started, and delete the
-- jobs whose run is no longer pending (cancelled or reaped before it started); tell open
-- console pages that runs started.
WITH picked AS MATERIALIZED (
    SELECT id, metadata_id FROM trax_background_job
    WHERE claimed_by IS NULL
    ORDER BY priority DESC, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), started AS (
    UPDATE trax_metadata AS run
    SET train_state = 'in_progress', start_time = STATEMENT_TIMESTAMP(), executor = %(executor)s,
        host_name = %(host_name)s, host_environment = %(host_environment)s,
        host_instance_id = %(host_instance_id)s, host_labels = %(host_labels)s::jsonb
    -- "IS TRUE" keeps the pending guard out of the planner's reach: written plainly, it
    -- matches trax_metadata_active_idx, and with statistics taken while the queue was empty the
    -- planner scans every pending run of a backlog once per claim instead of probing the key.
    FROM picked WHERE run.id = picked.metadata_id AND (run.train_state = 'pending') IS TRUE
    RETURNING run.id, run.name, run.input, run.external_id, run.manifest_id, run.parent_id,
              run.attempt, run.work_queue_id,
              -- the queue wait (metrics): from when the run was due to its start
              EXTRACT(EPOCH FROM STATEMENT_TIMESTAMP()
                      - COALESCE(run.scheduled_time, run.created_at))::float8 AS waited,
              run.trace_parent
), claimed AS (
    UPDATE trax_background_job AS job
    SET claimed_by = %(worker)s, claim_token = %(token)s,
        lease_expires_at = STATEMENT_TIMESTAMP() + make_interval(secs => %(lease)s)
    FROM picked JOIN started ON started.id = picked.metadata_id
    WHERE job.id = picked.id
    RETURNING job.id, job.metadata_id
), dead AS (
    DELETE FROM trax_background_job AS job
    USING picked
    WHERE job.id = picked.id AND picked.metadata_id NOT IN (SELECT id FROM started)
)
SELECT claimed.id, started.id, started.name, started.input, started.external_id,
       started.manifest_id, started.parent_id, started.attempt, started.work_queue_id,
       started.waited, started.trace_parent, pg_notify(%(changed)s, 'runs') IS NULL  -- one per transaction: identical ones merge
FROM claimed JOIN started ON started.id = claimed.metadata_id

-- name: background_job_complete
-- Finish a batch of runs: lock our claims (job id order, like the heartbeat and the reaper)
-- and delete them, which proves each claim still held; give each held run still in progress
-- its outcome (and junction timings); stamp the last success of manifests whose run completed (a `once` manifest
-- disables itself); wake the dispatcher (capacity freed). Returns the runs that landed.
WITH done AS (
    SELECT * FROM unnest(
        %(ids)s::bigint[], %(tokens)s::uuid[], %(states)s::text[], %(outputs)s::jsonb[],
        %(junctions)s::text[], %(exceptions)s::text[], %(reasons)s::text[], %(traces)s::text[],
        %(cancels)s::text[], %(timings)s::jsonb[]
    ) AS done(id, token, state, output, junction, exception, reason, trace, cancel, timings)
), held AS MATERIALIZED (
    SELECT job.id, job.metadata_id FROM trax_background_job AS job
    JOIN done ON job.metadata_id = done.id AND job.claim_token = done.token
    ORDER BY job.id
    FOR UPDATE OF job
), released AS (
    DELETE FROM trax_background_job AS job USING held WHERE job.id = held.id
), finished AS (
    UPDATE trax_metadata AS run
    SET train_state = done.state, end_time = STATEMENT_TIMESTAMP(), output = done.output,
        failure_junction = done.junction, failure_exception = done.exception,
        failure_reason = done.reason, stack_trace = done.trace,
        cancel_reason = CASE WHEN run.cancel_reason = '' THEN done.cancel
                             ELSE run.cancel_reason END,
        junction_timings = done.timings,
        currently_running_junction = '', junction_started_at = NULL
    -- "IS TRUE": as in the claim, the guard must not lead the planner to trax_metadata_active_idx.
    FROM held JOIN done ON done.id = held.metadata_id
    WHERE run.id = held.metadata_id AND (run.train_state = 'in_progress') IS TRUE
    RETURNING run.id, run.manifest_id, run.train_state, run.cancel_reason, run.end_time
), stamped AS (
    UPDATE trax_manifest AS manifest
    SET last_successful_run = success.end_time,
        is_enabled = CASE WHEN manifest.schedule_type = 'once' THEN false
                          ELSE manifest.is_enabled END,
        is_enabled_overridden = CASE WHEN manifest.schedule_type = 'once' THEN true
                                     ELSE manifest.is_enabled_overridden END
    FROM (
        SELECT manifest_id, max(end_time) AS end_time FROM finished
        WHERE manifest_id IS NOT NULL AND train_state = 'completed'
        GROUP BY manifest_id
    ) AS success
    WHERE manifest.id = success.manifest_id
)
SELECT finished.id, finished.cancel_reason, pg_notify(%(channel)s, '') IS NULL
FROM finished

-- name: work_queue_dispatch_with_jobs
-- Dispatch a batch: lock the entries still queued (id order, skipping another dispatcher's),
-- insert their runs (pending), mark them dispatched, insert their background jobs.
WITH locked AS MATERIALIZED (
    SELECT entry.id, entry.train_name, entry.input, entry.manifest_id, entry.attempt,
        entry.scheduled_at, entry.priority, entry.trace_parent
    FROM unnest(%(ids)s::bigint[]) AS chosen(id)
    JOIN trax_work_queue AS entry ON entry.id = chosen.id
    WHERE (entry.status = 'queued') IS TRUE  -- by key, never a scan of trax_work_queue_queued_idx
    ORDER BY entry.id FOR UPDATE OF entry SKIP LOCKED
), runs AS (
    INSERT INTO trax_metadata (name, external_id, executor, train_state, created_at, input,
        failure_junction, failure_exception, failure_reason, stack_trace, attempt,
        scheduled_time, cancellation_requested, cancel_reason, currently_running_junction,
        host_name, host_environment, host_instance_id, host_labels, manifest_id, work_queue_id,
        trace_parent)
    SELECT train_name, gen_random_uuid(), '', 'pending', STATEMENT_TIMESTAMP(), input,
        '', '', '', '', attempt, scheduled_at, false, '', '', '', '', '', '{}', manifest_id, id,
        trace_parent
    FROM locked ORDER BY id
    RETURNING id, work_queue_id, created_at
), entries AS (
    UPDATE trax_work_queue AS entry SET status = 'dispatched', metadata_id = runs.id,
        dispatched_at = runs.created_at
    FROM runs WHERE entry.id = runs.work_queue_id
), jobs AS (
    INSERT INTO trax_background_job (metadata_id, priority, created_at, attempt)
    SELECT runs.id, locked.priority, STATEMENT_TIMESTAMP(), locked.attempt
    FROM runs JOIN locked ON locked.id = runs.work_queue_id
    ORDER BY runs.id
)
SELECT runs.id, runs.work_queue_id, pg_notify(%(channel)s, '') IS NULL
FROM runs ORDER BY runs.id

-- name: work_queue_dispatch_runs_only
-- The same for a submitter that hands runs over itself: no background jobs, no notification.
WITH locked AS MATERIALIZED (
    SELECT entry.id, entry.train_name, entry.input, entry.manifest_id, entry.attempt,
        entry.scheduled_at, entry.trace_parent
    FROM unnest(%(ids)s::bigint[]) AS chosen(id)
    JOIN trax_work_queue AS entry ON entry.id = chosen.id
    WHERE (entry.status = 'queued') IS TRUE  -- by key, never a scan of trax_work_queue_queued_idx
    ORDER BY entry.id FOR UPDATE OF entry SKIP LOCKED
), runs AS (
    INSERT INTO trax_metadata (name, external_id, executor, train_state, created_at, input,
        failure_junction, failure_exception, failure_reason, stack_trace, attempt,
        scheduled_time, cancellation_requested, cancel_reason, currently_running_junction,
        host_name, host_environment, host_instance_id, host_labels, manifest_id, work_queue_id,
        trace_parent)
    SELECT train_name, gen_random_uuid(), '', 'pending', STATEMENT_TIMESTAMP(), input,
        '', '', '', '', attempt, scheduled_at, false, '', '', '', '', '', '{}', manifest_id, id,
        trace_parent
    FROM locked ORDER BY id
    RETURNING id, work_queue_id, created_at
), entries AS (
    UPDATE trax_work_queue AS entry SET status = 'dispatched', metadata_id = runs.id,
        dispatched_at = runs.created_at
    FROM runs WHERE entry.id = runs.work_queue_id
)
SELECT runs.id, runs.work_queue_id FROM runs ORDER BY runs.id

-- name: work_queue_enqueue_direct
-- One-off work no cap applies to, straight to the job queue: per input a work entry (already
-- dispatched), its run (pending) and its background job, ids drawn up front so the entry and
-- its run point at each other; the workers are notified on commit.
WITH chosen AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('trax_work_queue', 'id')) AS entry_id,
        nextval(pg_get_serial_sequence('trax_metadata', 'id')) AS run_id,
        new.external_id, new.input, new.ord
    FROM unnest(%(external_ids)s::uuid[], %(inputs)s::jsonb[])
        WITH ORDINALITY AS new(external_id, input, ord)
    ORDER BY new.ord
), entries AS (
    INSERT INTO trax_work_queue (id, external_id, train_name, input, priority, status,
        dispatch_attempts, attempt, max_retries, is_explicit_trigger, created_at, dispatched_at,
        metadata_id, trace_parent)
    SELECT entry_id, external_id, %(train)s, input, %(priority)s, 'dispatched', 0, 1,
        %(max_retries)s, false, STATEMENT_TIMESTAMP(), STATEMENT_TIMESTAMP(), run_id,
        %(trace_parent)s
    FROM chosen
), runs AS (
    INSERT INTO trax_metadata (id, name, external_id, executor, train_state, created_at, input,
        failure_junction, failure_exception, failure_reason, stack_trace, attempt,
        cancellation_requested, cancel_reason, currently_running_junction, host_name,
        host_environment, host_instance_id, host_labels, work_queue_id, trace_parent)
    SELECT run_id, %(train)s, gen_random_uuid(), '', 'pending', STATEMENT_TIMESTAMP(), input,
        '', '', '', '', 1, false, '', '', '', '', '', '{}', entry_id, %(trace_parent)s
    FROM chosen
), jobs AS (
    INSERT INTO trax_background_job (metadata_id, priority, created_at, attempt)
    SELECT run_id, %(priority)s, STATEMENT_TIMESTAMP(), 1 FROM chosen ORDER BY ord
)
SELECT pg_notify(%(channel)s, '')

-- name: rollup_checkpoint
-- The fold's view of the transactions that may still commit a finished run (see
-- trax/store/rollups.py): the database's time; whether the last checkpoint still waits on
-- one of its transactions; the virtual transaction ids open now that may hold such a run.
-- Open now: in this database, of a user's session (not autovacuum), neither failed nor idle in
-- a transaction that has written nothing (its next write is stamped later than now). A
-- checkpoint's transaction stops holding it when it ends, or when it has written nothing and
-- runs no statement begun by then. A session this role may not see into (no
-- pg_read_all_stats) has no state: it holds until its transaction ends.
SELECT STATEMENT_TIMESTAMP(),
    EXISTS (
        SELECT 1 FROM pg_locks AS lock
        LEFT JOIN pg_stat_activity AS session ON session.pid = lock.pid
        WHERE lock.locktype = 'virtualxid' AND lock.granted
            AND lock.virtualxid = ANY(%(waiting_on)s::text[])
            AND session.state IS DISTINCT FROM 'idle in transaction (aborted)'
            AND (session.state IS NULL OR session.state = 'disabled'
                 OR session.backend_xid IS NOT NULL
                 OR (session.state <> 'idle in transaction'
                     AND session.query_start <= %(checkpoint_at)s))
    ),
    ARRAY(
        SELECT lock.virtualxid FROM pg_locks AS lock
        JOIN pg_stat_activity AS session ON session.pid = lock.pid
        WHERE lock.locktype = 'virtualxid' AND lock.granted AND lock.pid <> pg_backend_pid()
            AND session.datname = current_database() AND session.usesysid IS NOT NULL
            AND session.state IS DISTINCT FROM 'idle in transaction (aborted)'
            AND NOT (session.state IS NOT DISTINCT FROM 'idle in transaction'
                     AND session.backend_xid IS NULL)
        ORDER BY 1
    )::text[]

-- name: rollup_fold
-- Fold the next finished runs past the watermark, (end_time, id) order, ended before the
-- settled point, at most %(limit)s of them, into their minute and hour buckets (minute buckets
-- only from %(minute_since)s on), under their train and, but housekeeping (trax.*), under
-- train '' (all trains): one upsert per bucket, train and outcome, in key order. Returns how
-- many runs the batch held and the last one's (end_time, id).
WITH batch AS MATERIALIZED (
    SELECT id, name, train_state, end_time, start_time, scheduled_time, created_at, work_queue_id
    FROM trax_metadata
    WHERE end_time >= %(after_end)s AND end_time < %(before)s
        AND (end_time, id) > (%(after_end)s, %(after_id)s)
    ORDER BY end_time, id
    LIMIT %(limit)s
), timed AS (
    SELECT batch.name, batch.train_state, batch.end_time,
        CASE WHEN batch.start_time IS NOT NULL THEN
            GREATEST(EXTRACT(EPOCH FROM batch.end_time - batch.start_time), 0)::float8
        END AS duration,
        -- Due: the occurrence's scheduled time, else when its work was queued, else when the
        -- run was made. A clock skew between hosts can make it negative: counted as 0.
        CASE WHEN batch.start_time IS NOT NULL THEN
            GREATEST(EXTRACT(EPOCH FROM batch.start_time - COALESCE(
                batch.scheduled_time, entry.created_at, batch.created_at)), 0)::float8
        END AS wait,
        -- The duration's histogram slot (0 .. 15; NULL when the run never started).
        CASE WHEN batch.start_time IS NOT NULL THEN width_bucket(
            GREATEST(EXTRACT(EPOCH FROM batch.end_time - batch.start_time), 0)::float8,
            %(bounds)s::float8[])
        END AS slot
    FROM batch LEFT JOIN trax_work_queue AS entry ON entry.id = batch.work_queue_id
    WHERE batch.train_state IN ('completed', 'failed', 'cancelled')
), buckets AS (
    SELECT spans.seconds AS bucket_seconds,
        date_trunc(CASE spans.seconds WHEN 60 THEN 'minute' ELSE 'hour' END, timed.end_time,
            'UTC') AS bucket,
        CASE sets.total WHEN 0 THEN timed.name ELSE '' END AS train,
        timed.train_state AS outcome, count(*) AS runs,
        count(timed.duration) AS started, COALESCE(sum(timed.duration), 0) AS duration_total,
        max(timed.duration) AS duration_max, COALESCE(sum(timed.wait), 0) AS wait_total,
        max(timed.wait) AS wait_max,
        count(*) FILTER (WHERE timed.slot = 0) AS d00,
        count(*) FILTER (WHERE timed.slot = 1) AS d01,
        count(*) FILTER (WHERE timed.slot = 2) AS d02,
        count(*) FILTER (WHERE timed.slot = 3) AS d03,
        count(*) FILTER (WHERE timed.slot = 4) AS d04,
        count(*) FILTER (WHERE timed.slot = 5) AS d05,
        count(*) FILTER (WHERE timed.slot = 6) AS d06,
        count(*) FILTER (WHERE timed.slot = 7) AS d07,
        count(*) FILTER (WHERE timed.slot = 8) AS d08,
        count(*) FILTER (WHERE timed.slot = 9) AS d09,
        count(*) FILTER (WHERE timed.slot = 10) AS d10,
        count(*) FILTER (WHERE timed.slot = 11) AS d11,
        count(*) FILTER (WHERE timed.slot = 12) AS d12,
        count(*) FILTER (WHERE timed.slot = 13) AS d13,
        count(*) FILTER (WHERE timed.slot = 14) AS d14,
        count(*) FILTER (WHERE timed.slot = 15) AS d15
    FROM timed CROSS JOIN (VALUES (60), (3600)) AS spans(seconds)
    CROSS JOIN (VALUES (0), (1)) AS sets(total)
    WHERE (spans.seconds = 3600 OR timed.end_time >= %(minute_since)s)
        AND (sets.total = 0 OR substr(timed.name, 1, 5) <> 'trax.')
    GROUP BY 1, 2, 3, 4
), upserted AS (
    INSERT INTO trax_run_rollup AS rollup (bucket_seconds, bucket, train, outcome, runs,
        started, duration_total, duration_max, wait_total, wait_max,
        d00, d01, d02, d03, d04, d05, d06, d07,
        d08, d09, d10, d11, d12, d13, d14, d15)
    SELECT * FROM buckets ORDER BY 1, 2, 3, 4
    ON CONFLICT (bucket_seconds, bucket, train, outcome) DO UPDATE SET
        runs = rollup.runs + EXCLUDED.runs,
        started = rollup.started + EXCLUDED.started,
        duration_total = rollup.duration_total + EXCLUDED.duration_total,
        duration_max = GREATEST(rollup.duration_max, EXCLUDED.duration_max),
        wait_total = rollup.wait_total + EXCLUDED.wait_total,
        wait_max = GREATEST(rollup.wait_max, EXCLUDED.wait_max),
        d00 = rollup.d00 + EXCLUDED.d00,
        d01 = rollup.d01 + EXCLUDED.d01,
        d02 = rollup.d02 + EXCLUDED.d02,
        d03 = rollup.d03 + EXCLUDED.d03,
        d04 = rollup.d04 + EXCLUDED.d04,
        d05 = rollup.d05 + EXCLUDED.d05,
        d06 = rollup.d06 + EXCLUDED.d06,
        d07 = rollup.d07 + EXCLUDED.d07,
        d08 = rollup.d08 + EXCLUDED.d08,
        d09 = rollup.d09 + EXCLUDED.d09,
        d10 = rollup.d10 + EXCLUDED.d10,
        d11 = rollup.d11 + EXCLUDED.d11,
        d12 = rollup.d12 + EXCLUDED.d12,
        d13 = rollup.d13 + EXCLUDED.d13,
        d14 = rollup.d14 + EXCLUDED.d14,
        d15 = rollup.d15 + EXCLUDED.d15
)
SELECT (SELECT count(*) FROM batch), last.end_time, last.id
FROM (SELECT 1) AS one LEFT JOIN LATERAL (
    SELECT end_time, id FROM batch ORDER BY end_time DESC, id DESC LIMIT 1
) AS last ON true

-- name: rollup_series
-- Finished runs of train %(train)s ('': all trains but housekeeping) per bucket of
-- %(width)s seconds from %(first)s to %(until)s: one row per bucket with runs, by outcome
-- (epoch seconds, completed, failed, cancelled, started, duration total and max, wait total
-- and max). Reads trax_run_rollup_train_idx: a row per bucket and outcome.
SELECT EXTRACT(EPOCH FROM bucket)::bigint,
    COALESCE(sum(runs) FILTER (WHERE outcome = 'completed'), 0),
    COALESCE(sum(runs) FILTER (WHERE outcome = 'failed'), 0),
    COALESCE(sum(runs) FILTER (WHERE outcome = 'cancelled'), 0),
    sum(started), sum(duration_total), max(duration_max), sum(wait_total), max(wait_max)
FROM trax_run_rollup
WHERE train = %(train)s AND bucket_seconds = %(width)s AND bucket >= %(first)s
    AND bucket < %(until)s
GROUP BY bucket

-- name: rollup_series_every_train
-- The same over every train's own rows, housekeeping included.
SELECT EXTRACT(EPOCH FROM bucket)::bigint,
    COALESCE(sum(runs) FILTER (WHERE outcome = 'completed'), 0),
    COALESCE(sum(runs) FILTER (WHERE outcome = 'failed'), 0),
    COALESCE(sum(runs) FILTER (WHERE outcome = 'cancelled'), 0),
    sum(started), sum(duration_total), max(duration_max), sum(wait_total), max(wait_max)
FROM trax_run_rollup
WHERE train <> '' AND bucket_seconds = %(width)s AND bucket >= %(first)s
    AND bucket < %(until)s
GROUP BY bucket
