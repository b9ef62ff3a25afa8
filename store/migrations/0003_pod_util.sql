-- Utilization per pod and hour, and per pod and UTC day: the sums the utilization read
-- (store/queries/usage.ts, UTIL_BUCKETS) makes from the hourly rollup, made once as rows
-- arrive. Each hourly rollup row counts as GR_ENGINE_ACTIVE where it has it, else
-- GPU_UTIL, weighted by the GPU's MIG share; "row" is each block the hourly view inserts,
-- so a GPU-hour whose blocks differ (GR_ENGINE_ACTIVE in some, e.g. after an exporter
-- restart) counts each block by its own metric, fixed once written (reading the rollup
-- itself gave an answer that changed as background merges joined those rows). Ordered by time, so a read of some hours or
-- days touches only those (the rollups are ordered by GPU first), and one row per pod
-- instead of one per GPU; a day of 1,000 GPUs is 24,000 hourly rollup rows but only as
-- many rows in pod_util_1d as pods ran that day. first_ts is the pod's first hour with a
-- sample in the row (reads match it to the pod's interval in effect then).

-- pod_activity_1m: each pod's minutes (GR_ENGINE_ACTIVE and GPU_UTIL sums, counts and
-- maxima over its GPUs), ordered by time, for "the last hour of the pods allocated now"
-- (/summary, fleet gauges): a read of the last hour touches that hour's rows only, not
-- the whole month partition of gpu_samples_1m.

CREATE TABLE IF NOT EXISTS pod_activity_1m
(
    ts          DateTime('UTC'),
    cluster     LowCardinality(String),
    namespace   LowCardinality(String),
    pod         String,
    gr_sum      SimpleAggregateFunction(sum, Float64),
    gr_n        SimpleAggregateFunction(sum, UInt64),
    gr_max      SimpleAggregateFunction(max, Nullable(Float32)),
    util_sum    SimpleAggregateFunction(sum, Float64),
    util_n      SimpleAggregateFunction(sum, UInt64),
    util_max    SimpleAggregateFunction(max, Nullable(Float32))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(ts)
ORDER BY (ts, cluster, namespace, pod)
TTL ts + toIntervalDay({{minuteDays}});

CREATE TABLE IF NOT EXISTS pod_util_1h
(
    ts          DateTime('UTC'),
    cluster     LowCardinality(String),
    namespace   LowCardinality(String),
    pod         String,
    first_ts    SimpleAggregateFunction(min, DateTime('UTC')),
    wsum        SimpleAggregateFunction(sum, Float64),
    wn          SimpleAggregateFunction(sum, Float64),
    n           SimpleAggregateFunction(sum, UInt64),
    gr_n        SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, cluster, namespace, pod)
TTL ts + toIntervalDay({{hourDays}});

-- A day row sums hours up to its end: it expires a day after its midnight would.
CREATE TABLE IF NOT EXISTS pod_util_1d AS pod_util_1h
ENGINE = AggregatingMergeTree
PARTITION BY toYear(ts)
ORDER BY (ts, cluster, namespace, pod)
TTL ts + toIntervalDay(1) + toIntervalDay({{hourDays}});

-- The views first: from here on every inserted block reaches the per-pod tables.
CREATE MATERIALIZED VIEW IF NOT EXISTS pod_activity_1m_mv TO pod_activity_1m AS
SELECT ts, cluster, namespace, pod, sum(gr_engine_active_sum) AS gr_sum, sum(gr_engine_active_n) AS gr_n, max(gr_engine_active_max) AS gr_max,
       sum(gpu_util_sum) AS util_sum, sum(gpu_util_n) AS util_n, max(gpu_util_max) AS util_max
FROM gpu_samples_1m
WHERE pod != ''
GROUP BY ts, cluster, namespace, pod;

CREATE MATERIALIZED VIEW IF NOT EXISTS pod_util_1h_mv TO pod_util_1h AS
SELECT ts, cluster, namespace, pod, min(ts) AS first_ts,
       sum(w * msum) AS wsum, sum(w * mcnt) AS wn, sum(mcnt) AS n, sum(if(use_gr, mcnt, 0)) AS gr_n
FROM (
    SELECT ts, cluster, namespace, pod,
           if(mig_profile = '', 1, if(toFloat64OrZero(extract(mig_profile, '^([0-9]+)g')) > 0,
             toFloat64OrZero(extract(mig_profile, '^([0-9]+)g')) / if(match(model, '(^|[^0-9A-Za-z])A30([^0-9A-Za-z]|$)'), 4, 7), 1)) AS w,
           gr_engine_active_n > 0 AS use_gr,
           if(use_gr, gr_engine_active_sum, gpu_util_sum) AS msum, if(use_gr, gr_engine_active_n, gpu_util_n) AS mcnt
    FROM gpu_samples_1h
    WHERE pod != ''
)
GROUP BY ts, cluster, namespace, pod;

-- Cascades from pod_util_1h's inserted blocks (sums of sums, min of mins: exact).
CREATE MATERIALIZED VIEW IF NOT EXISTS pod_util_1d_mv TO pod_util_1d AS
SELECT toStartOfDay(hour_ts) AS ts, cluster, namespace, pod, min(first_ts) AS first_ts,
       sum(wsum) AS wsum, sum(wn) AS wn, sum(n) AS n, sum(gr_n) AS gr_n
FROM (SELECT ts AS hour_ts, cluster, namespace, pod, first_ts, wsum, wn, n, gr_n FROM pod_util_1h)
GROUP BY ts, cluster, namespace, pod;

-- Then the rows already stored, after the views exist: rows inserted while this runs are
-- added by the views, and the backfill reads the parts present when it starts. Each
-- table is emptied first, so a migration cut short and re-run counts every row once
-- (only a block inserted in the milliseconds between a TRUNCATE and the INSERT after it,
-- or between the two TRUNCATEs, could count twice: stop the collectors during this
-- migration to rule that out, docs/operations.md). The pod_util_1h backfill fills
-- pod_util_1d through its view. insert_deduplicate = 0: a re-run inserts the same blocks
-- again, which replicated tables would otherwise drop as duplicates.
TRUNCATE TABLE pod_activity_1m;

INSERT INTO pod_activity_1m
SELECT ts, cluster, namespace, pod, sum(gr_engine_active_sum) AS gr_sum, sum(gr_engine_active_n) AS gr_n, max(gr_engine_active_max) AS gr_max,
       sum(gpu_util_sum) AS util_sum, sum(gpu_util_n) AS util_n, max(gpu_util_max) AS util_max
FROM gpu_samples_1m
WHERE pod != ''
GROUP BY ts, cluster, namespace, pod
SETTINGS insert_deduplicate = 0;

TRUNCATE TABLE pod_util_1d;

TRUNCATE TABLE pod_util_1h;

INSERT INTO pod_util_1h
SELECT ts, cluster, namespace, pod, min(ts) AS first_ts,
       sum(w * msum) AS wsum, sum(w * mcnt) AS wn, sum(mcnt) AS n, sum(if(use_gr, mcnt, 0)) AS gr_n
FROM (
    SELECT ts, cluster, namespace, pod,
           if(mig_profile = '', 1, if(toFloat64OrZero(extract(mig_profile, '^([0-9]+)g')) > 0,
             toFloat64OrZero(extract(mig_profile, '^([0-9]+)g')) / if(match(model, '(^|[^0-9A-Za-z])A30([^0-9A-Za-z]|$)'), 4, 7), 1)) AS w,
           gr_engine_active_n > 0 AS use_gr,
           if(use_gr, gr_engine_active_sum, gpu_util_sum) AS msum, if(use_gr, gr_engine_active_n, gpu_util_n) AS mcnt
    FROM gpu_samples_1h
    WHERE pod != ''
)
GROUP BY ts, cluster, namespace, pod
SETTINGS insert_deduplicate = 0;
