-- The container images of each pod, as its spec lists its (app) containers, so the
-- 360 view of a workload can say what it runs. Init containers are left out: they run
-- before the workload (data fetch, permissions) or beside it as infrastructure (a mesh
-- proxy), not as the job itself. Rows written before this migration read [], which
-- means unknown: a pod always has at least one container.
ALTER TABLE workload_intervals ADD COLUMN IF NOT EXISTS images Array(String) DEFAULT [];
