-- The store's hot-path statements on PostgreSQL (see trax/store/queries.py).
-- Each is one statement: run in autocommit it is one round trip and one commit.

-- name: background_job_claim
-- Pick and lock free jobs (MATERIALIZED, so the LIMIT holds), start their runs still pending
-- (the guarded pending -> in_progress), claim the jobs of the runs started, and delete the
-- jobs whose run is no longer pending (cancelled or reaped before it started).
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
              run.attempt, run.work_queue_id
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
       started.manifest_id, started.parent_id, started.attempt, started.work_queue_id
FROM claimed JOIN started ON started.id = claimed.metadata_id

-- name: background_job_complete
-- Finish a batch of runs: lock our claims (job id order, like the heartbeat and the reaper)
-- and delete them, which proves each claim still held; give each held run still in progress
-- its outcome; stamp the last success of manifests whose run completed (a `once` manifest
-- disables itself); wake the dispatcher (capacity freed). Returns the runs that landed.
WITH done AS (
    SELECT * FROM unnest(
        %(ids)s::bigint[], %(tokens)s::uuid[], %(states)s::text[], %(outputs)s::jsonb[],
        %(junctions)s::text[], %(exceptions)s::text[], %(reasons)s::text[], %(traces)s::text[],
        %(cancels)s::text[]
    ) AS done(id, token, state, output, junction, exception, reason, trace, cancel)
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
        entry.scheduled_at, entry.priority
    FROM unnest(%(ids)s::bigint[]) AS chosen(id)
    JOIN trax_work_queue AS entry ON entry.id = chosen.id
    WHERE (entry.status = 'queued') IS TRUE  -- by key, never a scan of trax_work_queue_queued_idx
    ORDER BY entry.id FOR UPDATE OF entry SKIP LOCKED
), runs AS (
    INSERT INTO trax_metadata (name, external_id, executor, train_state, created_at, input,
        failure_junction, failure_exception, failure_reason, stack_trace, attempt,
        scheduled_time, cancellation_requested, cancel_reason, currently_running_junction,
        host_name, host_environment, host_instance_id, host_labels, manifest_id, work_queue_id)
    SELECT train_name, gen_random_uuid(), '', 'pending', STATEMENT_TIMESTAMP(), input,
        '', '', '', '', attempt, scheduled_at, false, '', '', '', '', '', '{}', manifest_id, id
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
        entry.scheduled_at
    FROM unnest(%(ids)s::bigint[]) AS chosen(id)
    JOIN trax_work_queue AS entry ON entry.id = chosen.id
    WHERE (entry.status = 'queued') IS TRUE  -- by key, never a scan of trax_work_queue_queued_idx
    ORDER BY entry.id FOR UPDATE OF entry SKIP LOCKED
), runs AS (
    INSERT INTO trax_metadata (name, external_id, executor, train_state, created_at, input,
        failure_junction, failure_exception, failure_reason, stack_trace, attempt,
        scheduled_time, cancellation_requested, cancel_reason, currently_running_junction,
        host_name, host_environment, host_instance_id, host_labels, manifest_id, work_queue_id)
    SELECT train_name, gen_random_uuid(), '', 'pending', STATEMENT_TIMESTAMP(), input,
        '', '', '', '', attempt, scheduled_at, false, '', '', '', '', '', '{}', manifest_id, id
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
        metadata_id)
    SELECT entry_id, external_id, %(train)s, input, %(priority)s, 'dispatched', 0, 1,
        %(max_retries)s, false, STATEMENT_TIMESTAMP(), STATEMENT_TIMESTAMP(), run_id
    FROM chosen
), runs AS (
    INSERT INTO trax_metadata (id, name, external_id, executor, train_state, created_at, input,
        failure_junction, failure_exception, failure_reason, stack_trace, attempt,
        cancellation_requested, cancel_reason, currently_running_junction, host_name,
        host_environment, host_instance_id, host_labels, work_queue_id)
    SELECT run_id, %(train)s, gen_random_uuid(), '', 'pending', STATEMENT_TIMESTAMP(), input,
        '', '', '', '', 1, false, '', '', '', '', '', '{}', entry_id
    FROM chosen
), jobs AS (
    INSERT INTO trax_background_job (metadata_id, priority, created_at, attempt)
    SELECT run_id, %(priority)s, STATEMENT_TIMESTAMP(), 1 FROM chosen ORDER BY ord
)
SELECT pg_notify(%(channel)s, '')
