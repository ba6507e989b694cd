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
RETURNING id, name, input, external_id, manifest_id, parent_id, attempt, work_queue_id
