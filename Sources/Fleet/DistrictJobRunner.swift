import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterSupport

/// Runs a sync job for real: finds the district's token in Clever's token list, fetches the district
/// from Clever and syncs it into PostgreSQL.
public struct DistrictJobRunner: JobRunner {
    public let databaseURL: String
    public let clever: CleverConfiguration

    public init(databaseURL: String, clever: CleverConfiguration) {
        self.databaseURL = databaseURL
        self.clever = clever
    }

    public func run(_ job: SyncJob, logger: Logger, shouldStop: @escaping @Sendable () -> Bool) throws -> JobOutcome {
        let tokens: [CleverDistrictToken]
        do {
            tokens = try CleverOAuth(configuration: clever, logger: logger).listDistrictTokens()
        } catch let error as CleverError {
            throw JobFailure(
                code: "clever_token_list", message: "listing Clever's district tokens failed: \(error)",
                isTransient: error.isTransient)
        }
        guard let token = tokens.first(where: { $0.districtID == job.district })?.token else {
            try markRevoked(job.district)
            return JobOutcome(
                event: .blocked, outcome: "revoked",
                reason: "the district is not in Clever's token list: authorization revoked")
        }
        let source = WatchedSource(
            inner: CleverFetcher(token: token, configuration: clever, logger: logger), shouldStop: shouldStop)
        let syncer = DistrictSyncer(databaseURL: databaseURL, logger: logger)
        do {
            let report = try syncer.sync(
                districtCleverID: job.district, source: source,
                options: SyncOptions(dryRun: job.dryRun, jobID: job.jobID))
            return outcome(of: report, source.stats)
        } catch let error as SyncError {
            return try outcome(of: error, source, district: job.district)
        }
    }

    private func outcome(of report: SyncReport, _ stats: CleverFetchStats) -> JobOutcome {
        var reason = report.reason
        if report.outcome == .overLicense {
            reason = reason ?? "over the license count by \(report.licenseOverage ?? 0) students"
        }
        return JobOutcome(
            event: SyncEvent.Kind(outcome: report.outcome.rawValue), outcome: report.outcome.rawValue, report: report,
            pages: stats.pages,
            requests: stats.requests, reason: reason)
    }

    private func outcome(of error: SyncError, _ source: WatchedSource, district: String) throws -> JobOutcome {
        if source.stopped {
            throw JobFailure(code: "stopping", message: "the worker is stopping", isTransient: true)
        }
        if let clever = source.failure, clever.code == .authorizationRevoked {
            try markRevoked(district)
            return JobOutcome(event: .blocked, outcome: "revoked", reason: "Clever refused the district's token")
        }
        switch error.code {
        case .districtPaused:
            return JobOutcome(event: .blocked, outcome: "paused", reason: error.message)
        case .districtNotConnected:
            return JobOutcome(event: .blocked, outcome: "not_connected", reason: error.message)
        case .districtBusy:
            // Another worker holds the district (a redelivered copy of a job still running elsewhere).
            throw JobFailure(code: error.code.rawValue, message: error.message, isTransient: true)
        default:
            throw JobFailure(code: error.code.rawValue, message: error.message, isTransient: error.isTransient)
        }
    }

    private func markRevoked(_ district: String) throws {
        do {
            try DistrictDirectory(databaseURL: databaseURL).setStatus(cleverID: district, .disconnectedRevoked)
        } catch let error as SyncError where error.code == .districtNotFound {
            throw JobFailure(code: error.code.rawValue, message: error.message, isTransient: false)
        }
    }
}

/// Passes a source's batches through, stopping when the worker is asked to stop, and keeps the fetch's
/// statistics and the Clever error behind a failure, which the sync only reports as text.
final class WatchedSource: CleverDistrictSource, @unchecked Sendable {
    let inner: any CleverDistrictSource
    let shouldStop: @Sendable () -> Bool
    private(set) var stats = CleverFetchStats()
    private(set) var failure: CleverError?
    private(set) var stopped = false

    init(inner: any CleverDistrictSource, shouldStop: @escaping @Sendable () -> Bool) {
        self.inner = inner
        self.shouldStop = shouldStop
    }

    struct Stopping: Error, CustomStringConvertible, TransientReporting {
        var description: String { "the worker is stopping; the job goes back to the queue" }
        var isTransient: Bool { true }
    }

    func fetchAll(_ consume: (CleverBatch) throws -> Void) throws -> CleverFetchStats {
        do {
            stats = try inner.fetchAll { batch in
                if shouldStop() {
                    stopped = true
                    throw Stopping()
                }
                try consume(batch)
            }
            return stats
        } catch let error as CleverError {
            failure = error
            throw error
        }
    }
}
