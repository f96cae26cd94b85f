import Foundation
import PostgresClient
import RosterCore

/// The fleet's bookkeeping in PostgreSQL: jobs and nightly slots. One connection, used from one thread.
public final class FleetStore {
    let connection: PostgresConnection
    /// An open job untouched for this long is taken as lost (its message gone with a broker that lost
    /// its disk, say) and no longer blocks its district. Defaults to 12 hours, well past a long sync.
    public var staleAfter: TimeInterval = 12 * 3600

    public init(databaseURL: String) throws {
        connection = try PostgresConnection(url: databaseURL)
    }

    public enum Reservation: Equatable {
        case reserved
        /// The district already has a job waiting or running.
        case alreadyOpen(jobID: String)
        /// The nightly slot already has a job for this district.
        case alreadyInSlot
    }

    /// Queues `job` unless its district already has an open job (or, for a scheduled job, a job in the
    /// same slot): checks, calls `publish`, then records the job, all under a per-district lock in one
    /// transaction.
    ///
    /// Publishing before the row is committed means a crash in between leaves a message without a row,
    /// which the worker creates when it takes the job; the other order would leave a row without a
    /// message, blocking the district until the row is taken as stale.
    public func reserve(_ job: SyncJob, publish: () throws -> Void) throws -> Reservation {
        try connection.transaction {
            try connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["rostersync.enqueue:" + job.district])
            try connection.execute(
                """
                UPDATE sync_jobs SET state = 'abandoned', updated_at = now(), error = 'no progress for too long'
                WHERE district_clever_id = $1 AND state IN ('queued', 'running', 'retrying')
                  AND updated_at < now() - make_interval(secs => $2)
                """, [job.district, staleAfter])
            if let slot = job.slot {
                let existing = try connection.query(
                    "SELECT 1 FROM sync_jobs WHERE district_clever_id = $1 AND slot = $2", [job.district, slot])
                if !existing.isEmpty { return .alreadyInSlot }
            }
            let open = try connection.query(
                """
                SELECT job_id FROM sync_jobs
                WHERE district_clever_id = $1 AND state IN ('queued', 'running', 'retrying')
                """, [job.district])
            if let row = open.first { return .alreadyOpen(jobID: try row.string("job_id")) }
            try publish()
            try connection.execute(
                """
                INSERT INTO sync_jobs (job_id, district_clever_id, state, trigger, priority, dry_run, slot, enqueued_at)
                VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7)
                ON CONFLICT (job_id) DO NOTHING
                """,
                [
                    job.jobID, job.district, job.trigger.rawValue, job.priority.rawValue, job.dryRun, job.slot,
                    job.requestedAt,
                ])
            return .reserved
        }
    }

    /// How a job stands, when it has a row.
    public struct JobRecord: Sendable, Equatable {
        public var state: String
        public var runID: String?
        public var outcome: String?
        public var error: String?
        public var attempt: Int
    }

    public func record(of jobID: String) throws -> JobRecord? {
        guard
            let row = try connection.query(
                "SELECT state, run_id, outcome, error, attempt FROM sync_jobs WHERE job_id = $1", [jobID]
            ).first
        else { return nil }
        return JobRecord(
            state: try row.string("state"), runID: try row.optionalString("run_id"),
            outcome: try row.optionalString("outcome"), error: try row.optionalString("error"),
            attempt: try row.int("attempt"))
    }

    /// Marks a job running on `worker`, creating its row if the job was queued by other means.
    /// - Returns: the attempt number, counting this one.
    public func markRunning(_ job: SyncJob, worker: String) throws -> Int {
        let rows = try connection.query(
            """
            INSERT INTO sync_jobs (job_id, district_clever_id, state, trigger, priority, dry_run, slot,
                                   enqueued_at, attempt, worker, started_at)
            VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, 1, $8, now())
            ON CONFLICT (job_id) DO UPDATE SET state = 'running', attempt = sync_jobs.attempt + 1,
                worker = EXCLUDED.worker, started_at = now(), updated_at = now()
            RETURNING attempt
            """,
            [
                job.jobID, job.district, job.trigger.rawValue, job.priority.rawValue, job.dryRun, job.slot,
                job.requestedAt, worker,
            ])
        return try rows.first?.int("attempt") ?? 1
    }

    /// Records how a job ended: `done`, `failed` or `retrying`.
    public func finish(jobID: String, state: String, runID: String?, outcome: String, error: String?) throws {
        try connection.execute(
            """
            UPDATE sync_jobs SET state = $2, run_id = $3, outcome = $4, error = $5, updated_at = now(),
                finished_at = CASE WHEN $2 = 'retrying' THEN NULL ELSE now() END
            WHERE job_id = $1
              -- A copy of a job that was redelivered while the original still ran must not reopen it
              -- once the original has ended.
              AND NOT (sync_jobs.state IN ('done', 'failed') AND $2 IN ('retrying', 'queued'))
            """, [jobID, state, runID, outcome, error])
    }

    // MARK: Nightly slots

    /// The slots fired or being fired recently, newest first.
    public func recentSlots(limit: Int = 7) throws -> [(slot: String, state: String)] {
        try connection.query("SELECT slot, state FROM nightly_slots ORDER BY slot DESC LIMIT $1", [limit]).map {
            (try $0.string("slot"), try $0.string("state"))
        }
    }

    /// Claims `slot` for firing. Returns false when it was fired completely before.
    public func beginSlot(_ slot: String, coordinator: String) throws -> Bool {
        try connection.execute(
            """
            INSERT INTO nightly_slots (slot, state, coordinator) VALUES ($1, 'firing', $2)
            ON CONFLICT (slot) DO NOTHING
            """, [slot, coordinator])
        let state = try connection.query("SELECT state FROM nightly_slots WHERE slot = $1", [slot]).first
        return try state?.string("state") == "firing"
    }

    public func finishSlot(_ slot: String, jobs: Int) throws {
        try connection.execute(
            "UPDATE nightly_slots SET state = 'fired', fired_at = now(), jobs = jobs + $2 WHERE slot = $1",
            [slot, jobs])
    }

    /// Districts whose nightly sync is due: a district account, connected or disconnected for overage (to
    /// check again whether it fits), not paused, past its start date in the schedule's time zone, and added
    /// by the time the slot was due: a slot fired late queues what it would have queued on time.
    public func eligibleDistricts(localDate: String, addedBy due: Date) throws -> [String] {
        try connection.query(
            """
            SELECT d.clever_id FROM districts d JOIN accounts a ON a.id = d.account_id
            WHERE a.kind = 'district'
              AND d.status IN ('connected', 'disconnected_over_license')
              AND NOT d.paused
              AND (d.start_date IS NULL OR d.start_date <= $1::date)
              AND d.created_at <= $2::timestamptz
            ORDER BY d.clever_id
            """, [localDate, FleetJSON.iso8601(due)]
        ).map { try $0.string("clever_id") }
    }
}
