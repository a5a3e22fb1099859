"""What a model on Snowflake may not call or read (engine/read_only.py applies the rule):
``SnowflakeDialect.side_effect_functions`` and ``side_effect_columns``."""

from __future__ import annotations

# Functions a model may not call (engine/read_only.py): Snowflake's system control
# functions ("System functions (System Control)" in
# https://docs.snowflake.com/sql-reference/functions-system), which act on the account
# rather than answer a question. Its information functions (SYSTEM$TYPEOF,
# SYSTEM$CLUSTERING_INFORMATION, SYSTEM$PIPE_STATUS, ...) only read and stay allowed.
SIDE_EFFECT_FUNCTIONS = {
    "system$abort_*": "ends another session or transaction",
    "system$cancel_*": "cancels running queries",
    "system$user_task_cancel_*": "cancels running tasks",
    "system$task_dependents_enable": "resumes tasks",
    "system$wait": "holds the warehouse for the time given",
    "system$send_*": "sends a message outside the warehouse",
    "system$log*": "writes to the account's event table",
    "system$add_event": "writes to the account's event table",
    "system$set_*": "changes the account's, a procedure's or a trace's settings",
    "system$unset_*": "changes the account's settings",
    "system$global_account_set_parameter": "changes the account's settings",
    "system$enable_*": "changes the account's behaviour or sharing",
    "system$disable_*": "changes the account's behaviour, sharing or replication",
    "system$authorize_*": "changes the account's network access",
    "system$revoke_*": "changes the account's network access",
    "system$register_*": "changes the account's keys",
    "system$deregister_*": "changes the account's keys",
    "system$create_billing_event": "bills a consumer",
    "system$pipe_force_resume": "resumes a pipe",
    "system$pipe_rebinding_*": "changes a pipe",
    "system$convert_pipes_*": "changes pipes",
    "system$snowpipe_streaming_update_*": "changes a streaming channel",
    "system$migrate_*": "changes the account's login settings",
    "system$cleanup_*": "revokes grants",
    "system$link_account_objects_by_name": "changes replicated objects",
    "system$start_oauth_flow": "starts a login flow",
    "system$finish_oauth_flow": "completes a login flow",
}
# A sequence is advanced by reading its pseudo-column: ``seq.NEXTVAL``
# (https://docs.snowflake.com/user-guide/querying-sequences).
SIDE_EFFECT_COLUMNS = {"nextval": "advances a sequence"}
