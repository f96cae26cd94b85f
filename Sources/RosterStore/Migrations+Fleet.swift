/// The fleet's tables: jobs and nightly slots. They live here so that one `rostersync migrate` sets up
/// the whole database.
///
/// - `sync_jobs`: one row per job put on the queue. At most one open job (queued, running or waiting
///   for a retry) per district, enforced by a partial unique index, so neither the nightly window nor an
///   operator can queue a district twice; and at most one scheduled job per district and nightly slot.
/// - `nightly_slots`: the nightly firings. A slot is inserted `firing` before its jobs are queued and
///   marked `fired` after, so a coordinator that dies part-way resumes the same slot instead of skipping
///   or doubling it.
extension Migrations {
    static let fleet = """
        CREATE TABLE sync_jobs (
            job_id text PRIMARY KEY,
            district_clever_id text NOT NULL,
            state text NOT NULL CHECK (state IN ('queued', 'running', 'retrying', 'done', 'failed', 'abandoned')),
            trigger text NOT NULL,
            priority text NOT NULL,
            dry_run boolean NOT NULL DEFAULT false,
            slot text,
            attempt integer NOT NULL DEFAULT 0,
            worker text,
            run_id text,
            outcome text,
            error text,
            enqueued_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX sync_jobs_one_open_per_district ON sync_jobs (district_clever_id)
            WHERE state IN ('queued', 'running', 'retrying');
        CREATE UNIQUE INDEX sync_jobs_one_per_slot ON sync_jobs (district_clever_id, slot) WHERE slot IS NOT NULL;
        CREATE INDEX sync_jobs_by_district ON sync_jobs (district_clever_id, enqueued_at DESC);

        CREATE TABLE nightly_slots (
            slot text PRIMARY KEY,
            state text NOT NULL CHECK (state IN ('firing', 'fired')),
            coordinator text NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            fired_at timestamptz,
            jobs integer NOT NULL DEFAULT 0
        );
        """
}
