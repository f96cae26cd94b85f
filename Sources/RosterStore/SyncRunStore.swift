import Foundation
import PostgresClient
import RosterCore

/// A sync run as recorded: what `runs list` and `runs show` print.
public struct SyncRunRecord: Sendable, Codable, Equatable {
    public var runID: String
    public var districtCleverID: String
    public var outcome: SyncOutcome
    public var dryRun: Bool
    public var firstSync: Bool
    public var jobID: String?
    public var counts: [String: KindCounts]
    public var timings: [String: Double]
    public var findingsBySeverity: [String: Int]
    public var licenseOverage: Int?
    public var reason: String?
    public var errorCode: String?
    public var startedAt: Date
    public var finishedAt: Date?
    public var decidedAt: Date?
    /// Filled by `show`, empty in `list`.
    public var findings: [Finding]
}

/// Reads sync runs and their findings.
public final class SyncRunStore {
    let connection: PostgresConnection

    public convenience init(databaseURL: String) throws {
        do {
            self.init(connection: try PostgresConnection(url: databaseURL))
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// The latest runs, newest first, of one district or of all.
    public func list(districtCleverID: String? = nil, limit: Int = 50) throws -> [SyncRunRecord] {
        do {
            let rows = try connection.run(
                Self.select + " WHERE ($district::text IS NULL OR district_clever_id = $district) "
                    + "ORDER BY id DESC LIMIT $limit", ["district": districtCleverID, "limit": limit])
            return try rows.map { try Self.record($0) }
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// One run with its stored findings, most severe first.
    ///
    /// - Throws: `SyncError` `.runNotFound`.
    public func show(runID: String) throws -> SyncRunRecord {
        guard let id = Int(runID) else { throw SyncError(.runNotFound, "run ids are numbers; '\(runID)' is not one") }
        do {
            guard let row = try connection.run(Self.select + " WHERE id = $run::bigint", ["run": id]).first else {
                throw SyncError(.runNotFound, "no run \(runID)")
            }
            var record = try Self.record(row)
            record.findings = try findings(runID: runID, limit: nil)
            return record
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// The run as a `SyncReport`, with its first 10 findings.
    public func report(runID: String) throws -> SyncReport {
        let record = try show(runID: runID)
        let duration = (record.decidedAt ?? record.finishedAt).map { $0.timeIntervalSince(record.startedAt) } ?? 0
        return SyncReport(
            runID: record.runID, districtCleverID: record.districtCleverID, outcome: record.outcome,
            counts: record.counts, timings: record.timings, findingsBySeverity: record.findingsBySeverity,
            firstFindings: Array(record.findings.prefix(10)), licenseOverage: record.licenseOverage,
            reason: record.reason, durationSeconds: duration)
    }

    func findings(runID: String, limit: Int?) throws -> [Finding] {
        let rows = try connection.run(
            """
            SELECT code, severity, object_kind, object_clever_id, message, count FROM sync_findings
            WHERE run_id = $run::bigint ORDER BY id LIMIT $limit::integer
            """, ["run": Int(runID), "limit": limit])
        return try rows.map { row in
            Finding(
                code: try row.string("code"), severity: FindingSeverity(rawValue: try row.string("severity")) ?? .info,
                objectKind: try row.optionalString("object_kind"), objectID: try row.optionalString("object_clever_id"),
                message: try row.string("message"), count: try row.int("count"))
        }
    }

    static let select = """
        SELECT id, district_clever_id, outcome, dry_run, first_sync, job_id, counts::text AS counts,
            timings::text AS timings, findings_by_severity::text AS findings_by_severity, license_overage, reason,
            error_code, started_at, finished_at, decided_at
        FROM sync_runs
        """

    static func record(_ row: PostgresRow) throws -> SyncRunRecord {
        let decoder = JSONDecoder()
        func json<T: Decodable>(_ column: String, _ type: T.Type) throws -> T {
            try decoder.decode(type, from: Data(try row.string(column).utf8))
        }
        return SyncRunRecord(
            runID: try row.string("id"), districtCleverID: try row.string("district_clever_id"),
            outcome: SyncOutcome(rawValue: try row.string("outcome")) ?? .failed, dryRun: try row.bool("dry_run"),
            firstSync: try row.bool("first_sync"), jobID: try row.optionalString("job_id"),
            counts: try json("counts", [String: KindCounts].self), timings: try json("timings", [String: Double].self),
            findingsBySeverity: try json("findings_by_severity", [String: Int].self),
            licenseOverage: try row.optionalInt("license_overage"), reason: try row.optionalString("reason"),
            errorCode: try row.optionalString("error_code"), startedAt: try row.date("started_at"),
            finishedAt: try row.optionalDate("finished_at"), decidedAt: try row.optionalDate("decided_at"),
            findings: [])
    }
}
