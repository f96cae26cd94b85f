import Foundation
import PostgresClient
import RosterCore
import RosterSupport

/// How one sync runs.
public struct SyncOptions: Sendable {
    /// Computes the plan and findings through the same code and writes no roster row; the run is recorded
    /// as `dry_run`. Defaults to false.
    public var dryRun: Bool
    /// The fleet's job id, kept on the run record. Defaults to nil.
    public var jobID: String?
    /// Findings stored per code; beyond it one summary finding carries the full count. Defaults to 1,000,
    /// which keeps a million-student district's run readable while every decision is still counted.
    public var findingsCapPerCode: Int
    /// A school with fewer active students gets a `school.under_minimum` warning. Defaults to 100.
    public var minimumStudentsPerSchool: Int
    /// For tests: called at each checkpoint; a throw there fails the run as a real failure would.
    public var faultInjection: (@Sendable (SyncCheckpoint) throws -> Void)?

    public init(
        dryRun: Bool = false, jobID: String? = nil, findingsCapPerCode: Int = 1000, minimumStudentsPerSchool: Int = 100,
        faultInjection: (@Sendable (SyncCheckpoint) throws -> Void)? = nil
    ) {
        self.dryRun = dryRun
        self.jobID = jobID
        self.findingsCapPerCode = findingsCapPerCode
        self.minimumStudentsPerSchool = minimumStudentsPerSchool
        self.faultInjection = faultInjection
    }
}

/// Points in a run where `SyncOptions.faultInjection` is called.
public enum SyncCheckpoint: String, Sendable {
    /// Every batch is in the staging tables.
    case staged
    /// The plan is computed, nothing is applied.
    case planned
    /// Inside the apply transaction, after the schools were written and before anything else.
    case applying
}

/// Syncs one district: stages Clever's records, plans in SQL, checks the guards and applies the plan in one
/// transaction.
///
/// Owns nothing long-lived: each call opens its own connection from the URL and closes it before returning,
/// which also releases the district's lock, even after a failure; the run's work schema is dropped before.
public final class DistrictSyncer {
    let databaseURL: String
    let logger: Logger

    public init(databaseURL: String, logger: Logger) {
        self.databaseURL = databaseURL
        self.logger = logger
    }

    /// Syncs the district with Clever id `districtCleverID` from `source`.
    ///
    /// - Returns: the run's report; `outcome` says whether the plan was applied, held, stopped by the
    ///   license cap, or only computed (dry run).
    /// - Throws: `SyncError`: `.districtNotFound`, `.districtPaused`, `.districtNotConnected`,
    ///   `.districtBusy` (another sync holds the district), `.sourceFailed` or `.database`. A run that
    ///   started is recorded as `failed` with the code, and the district's roster is left as it was.
    public func sync(districtCleverID: String, source: any CleverDistrictSource, options: SyncOptions = .init())
        throws -> SyncReport
    {
        let connection = try connect()
        let directory = DistrictDirectory(connection: connection)
        let found = try directory.settings(districtCleverID)
        if found.paused {
            throw SyncError(.districtPaused, "district \(districtCleverID) is paused; resume it with --paused off")
        }
        if found.status == .pending || found.status == .disconnectedRevoked {
            throw SyncError(.districtNotConnected, "district \(districtCleverID) is \(found.status.rawValue)")
        }
        try lock(connection, found)
        defer { try? connection.advisoryUnlock(Self.lockKey(found.accountID)) }
        let district = try directory.settings(districtCleverID)
        let runID = try createRun(connection, district, options)
        let log = logger.with(["district.id": districtCleverID, "run.id": runID])
        log.info("sync started", metadata: ["sync.dry_run": "\(options.dryRun)"])
        let run = SyncRun(
            connection: connection, district: district, runID: runID, options: options, logger: log)
        do {
            let report = try run.execute(source)
            log.info("sync finished", metadata: ["sync.outcome": report.outcome.rawValue])
            return report
        } catch {
            let failure = SyncError.wrapping(error)
            log.error("sync failed", metadata: ["error.code": failure.code.rawValue])
            recordFailure(runID: runID, failure, connection: connection, timings: run.timings)
            throw failure
        }
    }

    /// Applies a held run's plan exactly as it was made, if the district's roster and settings have not
    /// changed since.
    ///
    /// - Throws: `SyncError` `.runNotFound`, `.runNotHeld`, `.planStale`, `.districtBusy` or `.database`.
    public func approve(runID: String) throws -> SyncReport {
        let connection = try connect()
        let held = try heldRun(connection, runID)
        let directory = DistrictDirectory(connection: connection)
        let district = try directory.settings(held.districtCleverID)
        try lock(connection, district)
        defer { try? connection.advisoryUnlock(Self.lockKey(district.accountID)) }
        let started = Date()
        do {
            let current = try directory.settings(held.districtCleverID)
            guard current.rosterVersion == held.planVersion else {
                throw SyncError(
                    .planStale,
                    "district \(held.districtCleverID) changed since run \(runID) was held; discard it and sync again")
            }
            let workspace = try SyncWorkspace.open(connection)
            defer { workspace.close() }
            for statement in SyncSQL.planTables { try connection.execute(statement) }
            for table in SyncSQL.planTableNames {
                try connection.run(
                    """
                    INSERT INTO \(table) SELECT r.* FROM sync_plan_rows s
                    CROSS JOIN LATERAL jsonb_populate_record(NULL::\(table), s.payload) r
                    WHERE s.run_id = $run::bigint AND s.kind = $kind
                    """, ["run": Int(runID), "kind": table])
            }
            guard try !connection.query(SyncSQL.planLacksIDs).first!.bool("lacking") else {
                throw SyncError(
                    .planStale,
                    "run \(runID) was held by an earlier version of rostersync, whose plans this one cannot apply; "
                        + "discard it and sync again")
            }
            try SyncApplier.apply(connection, accountID: district.accountID, runID: runID, fault: nil, logger: logger)
            let seconds = Date().timeIntervalSince(started)
            try connection.run(
                """
                UPDATE sync_runs SET outcome = 'completed', decided_at = now(),
                    timings = timings || jsonb_build_object('approve', $seconds::float8)
                WHERE id = $run::bigint
                """, ["run": Int(runID), "seconds": seconds])
            try connection.run("DELETE FROM sync_plan_rows WHERE run_id = $run::bigint", ["run": Int(runID)])
            logger.info("held run approved", metadata: ["district.id": district.cleverID, "run.id": runID])
            return try SyncRunStore(connection: connection).report(runID: runID)
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// Throws a held run's plan away; the district stays as it is.
    public func discard(runID: String) throws {
        let connection = try connect()
        _ = try heldRun(connection, runID)
        do {
            try connection.transaction {
                try connection.run(
                    "UPDATE sync_runs SET outcome = 'discarded', decided_at = now() WHERE id = $run::bigint",
                    ["run": Int(runID)])
                try connection.run("DELETE FROM sync_plan_rows WHERE run_id = $run::bigint", ["run": Int(runID)])
            }
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// Session-level advisory lock key of a district: a fixed tag in the high bits, the account id below,
    /// so it cannot meet another feature's lock.
    static func lockKey(_ accountID: Int) -> Int64 {
        0x5253_0000_0000_0000 | Int64(accountID)
    }

    private func connect() throws -> PostgresConnection {
        do {
            return try PostgresConnection(url: databaseURL)
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    private func lock(_ connection: PostgresConnection, _ district: DistrictSettings) throws {
        let locked: Bool
        do {
            locked = try connection.tryAdvisoryLock(Self.lockKey(district.accountID))
        } catch {
            throw SyncError.wrapping(error)
        }
        guard locked else {
            throw SyncError(
                .districtBusy, "district \(district.cleverID) is being synced by another worker", isTransient: true)
        }
        // Holding the lock proves that no run of this district is alive: a run still marked running died
        // with its process (a killed worker), and nothing of it was applied.
        do {
            try connection.execute(
                """
                UPDATE sync_runs SET outcome = 'failed', error_code = 'abandoned', finished_at = now(),
                    reason = 'the process running the sync stopped before it ended; nothing was applied'
                WHERE account_id = $1 AND outcome = 'running'
                """, [district.accountID])
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    private func createRun(_ connection: PostgresConnection, _ district: DistrictSettings, _ options: SyncOptions)
        throws -> String
    {
        do {
            let row = try connection.run(
                """
                INSERT INTO sync_runs (account_id, district_clever_id, job_id, outcome, dry_run)
                VALUES ($account::bigint, $district, $job, 'running', $dry) RETURNING id
                """,
                [
                    "account": district.accountID, "district": district.cleverID, "job": options.jobID,
                    "dry": options.dryRun,
                ])
            return try row.first!.string("id")
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// Records the failure on the run, through a fresh connection when the run's own one broke.
    private func recordFailure(
        runID: String, _ failure: SyncError, connection: PostgresConnection, timings: [String: Double]
    ) {
        let timingsJSON = (try? String(decoding: JSONEncoder().encode(timings), as: UTF8.self)) ?? "{}"
        let sql = """
            UPDATE sync_runs SET outcome = 'failed', error_code = $code, reason = $reason, finished_at = now(),
                timings = $timings::jsonb
            WHERE id = $run::bigint
            """
        let values: [String: (any PostgresBindable)?] = [
            "code": failure.code.rawValue, "reason": failure.message, "timings": timingsJSON, "run": Int(runID),
        ]
        if (try? connection.run(sql, values)) != nil { return }
        if let fresh = try? PostgresConnection(url: databaseURL) { _ = try? fresh.run(sql, values) }
    }

    private struct HeldRun {
        let districtCleverID: String
        let planVersion: Int
    }

    private func heldRun(_ connection: PostgresConnection, _ runID: String) throws -> HeldRun {
        guard let id = Int(runID) else { throw SyncError(.runNotFound, "run ids are numbers; '\(runID)' is not one") }
        do {
            guard
                let row = try connection.run(
                    "SELECT district_clever_id, outcome, plan_version FROM sync_runs WHERE id = $run::bigint",
                    ["run": id]
                ).first
            else { throw SyncError(.runNotFound, "no run \(runID)") }
            let outcome = try row.string("outcome")
            guard outcome == SyncOutcome.held.rawValue else {
                throw SyncError(.runNotHeld, "run \(runID) is \(outcome), not held")
            }
            return HeldRun(
                districtCleverID: try row.string("district_clever_id"), planVersion: try row.int("plan_version"))
        } catch {
            throw SyncError.wrapping(error)
        }
    }
}
