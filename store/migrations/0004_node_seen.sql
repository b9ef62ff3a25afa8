-- When the Kubernetes collector last saw each GPU node, one row per node (the newest wins).
-- The collector's node heartbeat writes here instead of repeating an unchanged row into
-- node_state, which now holds changes only: capacity reads scan node_state's whole history,
-- and hourly repeats made it grow by 24 rows per node per day for nothing they read.

CREATE TABLE IF NOT EXISTS node_seen
(
    cluster       LowCardinality(String),
    node          LowCardinality(String),
    last_seen_ts  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(last_seen_ts)
ORDER BY (cluster, node);
