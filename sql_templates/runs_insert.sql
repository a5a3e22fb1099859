INSERT INTO __runs__ (
    sync_id, sync_run_id, primary_key, destination, model_name, model_id, status, error,
    started_at, finished_at,
    num_planned_add, num_planned_change, num_planned_remove,
    num_attempted_add, num_attempted_change, num_attempted_remove,
    num_succeeded_add, num_succeeded_change, num_succeeded_remove,
    num_failed_add, num_failed_change, num_failed_remove
) VALUES (
    :sync_id, :sync_run_id, :primary_key, :destination, :model_name, :model_id, :status, :error,
    :started_at, :finished_at,
    :num_planned_add, :num_planned_change, :num_planned_remove,
    :num_attempted_add, :num_attempted_change, :num_attempted_remove,
    :num_succeeded_add, :num_succeeded_change, :num_succeeded_remove,
    :num_failed_add, :num_failed_change, :num_failed_remove
);
