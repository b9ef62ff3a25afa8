-- gpuscope schema v1: raw GPU samples, workload intervals, node state history,
-- notebook activity, cloud instances and prices, the audit log.
-- {{rawDays}}, {{minuteDays}} and {{hourDays}} are filled from store.ttl (validated integers);
-- later TTL changes are applied by the migrator with ALTER ... MODIFY TTL.

-- One wide row per GPU (or MIG slice) per scrape. Metrics are Nullable: a metric the
-- exporter did not report is NULL (unknown), never 0.
CREATE TABLE IF NOT EXISTS gpu_samples
(
    ts                DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    cluster           LowCardinality(String),
    node              LowCardinality(String),
    gpu_uuid          LowCardinality(String),
    gpu_index         UInt8,
    model             LowCardinality(String),
    mig_profile       LowCardinality(String),
    mig_instance      Nullable(UInt8),
    namespace         LowCardinality(String),
    pod               String,
    container         LowCardinality(String),
    gr_engine_active  Nullable(Float32),
    sm_active         Nullable(Float32),
    sm_occupancy      Nullable(Float32),
    tensor_active     Nullable(Float32),
    dram_active       Nullable(Float32),
    gpu_util          Nullable(Float32),
    fb_used_bytes     Nullable(UInt64),
    fb_free_bytes     Nullable(UInt64),
    power_watts       Nullable(Float32),
    temperature_c     Nullable(Float32)
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (cluster, node, gpu_uuid, ts)
TTL toDateTime(ts) + toIntervalDay({{rawDays}})
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

-- Exact GPU holds per pod. One row per pod uid; the newest observation wins, so a pod
-- seen again after a collector restart updates its interval instead of adding one.
CREATE TABLE IF NOT EXISTS workload_intervals
(
    cluster        LowCardinality(String),
    pod_uid        String,
    namespace      LowCardinality(String),
    pod            String,
    workload_kind  LowCardinality(String),
    workload_name  String,
    team           LowCardinality(String),
    project        LowCardinality(String),
    user           LowCardinality(String),
    node           LowCardinality(String),
    gpus           Float64,
    gpu_resource   LowCardinality(String),
    created_ts     DateTime64(3, 'UTC'),
    start_ts       Nullable(DateTime64(3, 'UTC')),
    end_ts         Nullable(DateTime64(3, 'UTC')),
    last_seen_ts   DateTime64(3, 'UTC'),
    phase          LowCardinality(String)
)
ENGINE = ReplacingMergeTree(last_seen_ts)
ORDER BY (cluster, pod_uid)
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per observed change of a node; capacity(t) is read from this history.
CREATE TABLE IF NOT EXISTS node_state
(
    ts                DateTime64(3, 'UTC'),
    cluster           LowCardinality(String),
    node              LowCardinality(String),
    pool              LowCardinality(String),
    gpu_model         LowCardinality(String),
    provider          LowCardinality(String),
    instance_type     LowCardinality(String),
    spot              Bool,
    capacity_gpus     Float64,
    allocatable_gpus  Float64,
    ready             Bool,
    schedulable       Bool
)
ENGINE = MergeTree
ORDER BY (cluster, node, ts)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS notebook_activity
(
    ts               DateTime64(3, 'UTC'),
    cluster          LowCardinality(String),
    namespace        LowCardinality(String),
    notebook         String,
    kernel_id        String,
    execution_state  LowCardinality(String),
    last_activity_ts DateTime64(3, 'UTC'),
    connections      UInt32
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (cluster, namespace, notebook, ts)
TTL toDateTime(ts) + toIntervalDay({{minuteDays}})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS cloud_instances
(
    ts             DateTime64(3, 'UTC'),
    provider       LowCardinality(String),
    region         LowCardinality(String),
    instance_id    String,
    instance_type  LowCardinality(String),
    lifecycle      LowCardinality(String),
    state          LowCardinality(String),
    gpus           Float64,
    gpu_model      LowCardinality(String),
    cluster        LowCardinality(String),
    node           String
)
ENGINE = MergeTree
ORDER BY (provider, instance_id, ts)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS prices
(
    provider          LowCardinality(String),
    region            LowCardinality(String),
    instance_type     LowCardinality(String),
    lifecycle         LowCardinality(String),
    gpus              Float64,
    usd_per_hour      Float64,
    effective_from_ts DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (provider, region, instance_type, lifecycle, effective_from_ts);

-- The audit log: every alert, warning, shutdown, reclaim and burst decision, acted or
-- not, with its evidence. Never expires.
CREATE TABLE IF NOT EXISTS actions
(
    ts             DateTime64(3, 'UTC'),
    id             String,
    action         LowCardinality(String),
    cluster        LowCardinality(String),
    namespace      LowCardinality(String),
    workload_kind  LowCardinality(String),
    workload_name  String,
    decision       LowCardinality(String),
    dry_run        Bool,
    acted          Bool,
    reason         String,
    evidence       String,
    actor          LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (ts, id);
