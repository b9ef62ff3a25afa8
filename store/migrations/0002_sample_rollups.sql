-- 1-minute and 1-hour rollups of gpu_samples, kept by materialized views so dashboards
-- and reports read rollups, not raw rows. Each metric keeps a sum and a count of the
-- samples that had it (mean = sum / n; a bucket with n = 0 is unknown, not 0), and the
-- activity metrics keep their max so "idle for the whole window" can be checked exactly.

CREATE TABLE IF NOT EXISTS gpu_samples_1m
(
    ts                    DateTime('UTC'),
    cluster               LowCardinality(String),
    node                  LowCardinality(String),
    gpu_uuid              LowCardinality(String),
    namespace             LowCardinality(String),
    pod                   String,
    model                 SimpleAggregateFunction(anyLast, LowCardinality(String)),
    mig_profile           SimpleAggregateFunction(anyLast, LowCardinality(String)),
    samples               SimpleAggregateFunction(sum, UInt64),
    gr_engine_active_sum  SimpleAggregateFunction(sum, Float64),
    gr_engine_active_n    SimpleAggregateFunction(sum, UInt64),
    gr_engine_active_max  SimpleAggregateFunction(max, Nullable(Float32)),
    sm_active_sum         SimpleAggregateFunction(sum, Float64),
    sm_active_n           SimpleAggregateFunction(sum, UInt64),
    tensor_active_sum     SimpleAggregateFunction(sum, Float64),
    tensor_active_n       SimpleAggregateFunction(sum, UInt64),
    dram_active_sum       SimpleAggregateFunction(sum, Float64),
    dram_active_n         SimpleAggregateFunction(sum, UInt64),
    gpu_util_sum          SimpleAggregateFunction(sum, Float64),
    gpu_util_n            SimpleAggregateFunction(sum, UInt64),
    gpu_util_max          SimpleAggregateFunction(max, Nullable(Float32)),
    fb_used_bytes_max     SimpleAggregateFunction(max, Nullable(UInt64)),
    power_watts_sum       SimpleAggregateFunction(sum, Float64),
    power_watts_n         SimpleAggregateFunction(sum, UInt64),
    temperature_c_max     SimpleAggregateFunction(max, Nullable(Float32))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (cluster, node, gpu_uuid, namespace, pod, ts)
TTL ts + toIntervalDay({{minuteDays}});

CREATE MATERIALIZED VIEW IF NOT EXISTS gpu_samples_1m_mv TO gpu_samples_1m AS
SELECT
    toStartOfMinute(ts) AS ts, cluster, node, gpu_uuid, namespace, pod,
    anyLast(model) AS model, anyLast(mig_profile) AS mig_profile, count() AS samples,
    sum(ifNull(toFloat64(gr_engine_active), 0)) AS gr_engine_active_sum, count(gr_engine_active) AS gr_engine_active_n,
    max(gr_engine_active) AS gr_engine_active_max,
    sum(ifNull(toFloat64(sm_active), 0)) AS sm_active_sum, count(sm_active) AS sm_active_n,
    sum(ifNull(toFloat64(tensor_active), 0)) AS tensor_active_sum, count(tensor_active) AS tensor_active_n,
    sum(ifNull(toFloat64(dram_active), 0)) AS dram_active_sum, count(dram_active) AS dram_active_n,
    sum(ifNull(toFloat64(gpu_util), 0)) AS gpu_util_sum, count(gpu_util) AS gpu_util_n,
    max(gpu_util) AS gpu_util_max,
    max(fb_used_bytes) AS fb_used_bytes_max,
    sum(ifNull(toFloat64(power_watts), 0)) AS power_watts_sum, count(power_watts) AS power_watts_n,
    max(temperature_c) AS temperature_c_max
FROM gpu_samples
GROUP BY ts, cluster, node, gpu_uuid, namespace, pod;

CREATE TABLE IF NOT EXISTS gpu_samples_1h AS gpu_samples_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYear(ts)
ORDER BY (cluster, node, gpu_uuid, namespace, pod, ts)
TTL ts + toIntervalDay({{hourDays}});

-- The hourly rollup cascades from the minute rollup: it re-aggregates the partial
-- aggregates of each inserted block (sums of sums, max of maxes), which is exact.
CREATE MATERIALIZED VIEW IF NOT EXISTS gpu_samples_1h_mv TO gpu_samples_1h AS
SELECT
    toStartOfHour(ts) AS ts, cluster, node, gpu_uuid, namespace, pod,
    anyLast(model) AS model, anyLast(mig_profile) AS mig_profile, sum(samples) AS samples,
    sum(gr_engine_active_sum) AS gr_engine_active_sum, sum(gr_engine_active_n) AS gr_engine_active_n,
    max(gr_engine_active_max) AS gr_engine_active_max,
    sum(sm_active_sum) AS sm_active_sum, sum(sm_active_n) AS sm_active_n,
    sum(tensor_active_sum) AS tensor_active_sum, sum(tensor_active_n) AS tensor_active_n,
    sum(dram_active_sum) AS dram_active_sum, sum(dram_active_n) AS dram_active_n,
    sum(gpu_util_sum) AS gpu_util_sum, sum(gpu_util_n) AS gpu_util_n,
    max(gpu_util_max) AS gpu_util_max,
    max(fb_used_bytes_max) AS fb_used_bytes_max,
    sum(power_watts_sum) AS power_watts_sum, sum(power_watts_n) AS power_watts_n,
    max(temperature_c_max) AS temperature_c_max
FROM gpu_samples_1m
GROUP BY ts, cluster, node, gpu_uuid, namespace, pod;
