import PostgresClient

/// An error of the roster store, with a code a program can switch on.
///
/// `description` is safe to show an operator: it names districts and runs, never a student, a username
/// or a bind value.
public struct SyncError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable, Codable {
        /// No district with that Clever id is set up.
        case districtNotFound = "district_not_found"
        /// `district add` for a Clever id that is already set up.
        case districtExists = "district_exists"
        /// Another sync (or approval) of the district holds its lock.
        case districtBusy = "district_busy"
        /// The district is paused; nothing syncs until it is resumed.
        case districtPaused = "district_paused"
        /// The district is pending or its token was revoked.
        case districtNotConnected = "district_not_connected"
        /// Fetching from Clever failed; `isTransient` says whether a retry may help.
        case sourceFailed = "source_failed"
        case runNotFound = "run_not_found"
        /// `runs approve` or `runs discard` of a run that is not held.
        case runNotHeld = "run_not_held"
        /// The district's roster or settings changed since the held plan was made.
        case planStale = "plan_stale"
        case invalidSetting = "invalid_setting"
        /// PostgreSQL failed; `isTransient` says whether a retry may help.
        case database
        /// A fault injected by a test through `SyncOptions.faultInjection`.
        case injectedFault = "injected_fault"
    }

    public let code: Code
    public let message: String
    /// True when trying the same work again later may succeed (a lost connection, a network error).
    public let isTransient: Bool

    public init(_ code: Code, _ message: String, isTransient: Bool = false) {
        self.code = code
        self.message = message
        self.isTransient = isTransient
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Wraps any error that is not already a `SyncError` as a database error.
    static func wrapping(_ error: any Error) -> SyncError {
        if let error = error as? SyncError { return error }
        if let error = error as? PostgresError {
            return SyncError(.database, error.description, isTransient: error.isTransient)
        }
        return SyncError(.database, String(describing: error))
    }
}

/// Lets a source's error say whether a retry may help; errors that do not conform count as permanent.
public protocol TransientReporting: Error {
    var isTransient: Bool { get }
}
