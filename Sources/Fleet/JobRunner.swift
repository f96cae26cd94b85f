import Foundation
import RosterCore
import RosterSupport

/// What a finished job reports, before the worker turns it into a `SyncEvent`.
public struct JobOutcome: Sendable {
    public var event: SyncEvent.Kind
    /// `completed`, `dry_run`, `held`, `over_license`, `revoked`, `paused`, ...
    public var outcome: String
    public var report: SyncReport?
    public var pages: Int
    public var requests: Int
    /// An operator-safe reason for held, blocked and failed jobs.
    public var reason: String?

    public init(
        event: SyncEvent.Kind, outcome: String, report: SyncReport? = nil, pages: Int = 0, requests: Int = 0,
        reason: String? = nil
    ) {
        self.event = event
        self.outcome = outcome
        self.report = report
        self.pages = pages
        self.requests = requests
        self.reason = reason
    }
}

/// A job that could not finish. Transient failures are retried later; permanent ones are not.
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    public let code: String
    public let message: String
    public let isTransient: Bool

    public init(code: String, message: String, isTransient: Bool) {
        self.code = code
        self.message = message
        self.isTransient = isTransient
    }

    public var description: String { "\(code): \(message)" }
}

/// Runs one sync job. The worker calls it on a thread of its own, never on Swift's cooperative pool.
public protocol JobRunner: Sendable {
    /// - Parameters:
    ///   - shouldStop: turns true when the worker is stopping and wants the job handed back; a runner
    ///     checks it between steps and throws a transient `JobFailure` with code `stopping`.
    /// - Throws: `JobFailure`, or any error (taken as permanent unless it says it is transient).
    func run(_ job: SyncJob, logger: Logger, shouldStop: @escaping @Sendable () -> Bool) throws -> JobOutcome
}
