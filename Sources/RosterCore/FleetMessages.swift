import Foundation

/// A request to sync one district, as it travels on the jobs queue. Version 1.
///
/// It names the district by Clever id and carries no token and no personal data: a worker looks the
/// token up in Clever's token list when it runs the job.
public struct SyncJob: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public enum Trigger: String, Codable, Sendable {
        /// The nightly window.
        case schedule
        /// `rostersync enqueue`.
        case operator_ = "operator"
    }

    public enum Priority: String, Codable, Sendable {
        case normal, high
    }

    public var version: Int
    public var jobID: String
    public var district: String
    public var dryRun: Bool
    public var priority: Priority
    public var trigger: Trigger
    /// The nightly slot (`2026-12-03`) for scheduled jobs.
    public var slot: String?
    public var requestedAt: Date

    enum CodingKeys: String, CodingKey {
        case version
        case jobID = "job_id"
        case district
        case dryRun = "dry_run"
        case priority, trigger, slot
        case requestedAt = "requested_at"
    }

    public init(
        jobID: String = UUID().uuidString.lowercased(), district: String, dryRun: Bool = false,
        priority: Priority = .normal, trigger: Trigger, slot: String? = nil, requestedAt: Date = Date()
    ) {
        self.version = Self.currentVersion
        self.jobID = jobID
        self.district = district
        self.dryRun = dryRun
        self.priority = priority
        self.trigger = trigger
        self.slot = slot
        self.requestedAt = requestedAt
    }
}

/// What a worker tells monitoring when a job ends, on the events exchange. Version 1.
///
/// The routing key is `sync.<outcome kind>`: `sync.completed`, `sync.failed`, `sync.held`,
/// `sync.blocked` (license overage, revoked authorization, paused district).
public struct SyncEvent: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case completed, failed, held, blocked

        public var routingKey: String { "sync.\(rawValue)" }

        /// The event a job's outcome (`SyncEvent.outcome`) is reported by: applied or computed runs
        /// complete, held runs are held, failures fail, and everything that stops a district until someone
        /// acts (`over_license`, `revoked`, `paused`, `not_connected`) is blocked.
        public init(outcome: String) {
            switch outcome {
            case "completed", "dry_run", "running", "discarded": self = .completed
            case "held": self = .held
            case "failed": self = .failed
            default: self = .blocked
            }
        }
    }

    public struct FindingSummary: Codable, Sendable, Equatable {
        public var code: String
        public var severity: String
        public var object: String?
        public var message: String

        public init(code: String, severity: String, object: String?, message: String) {
            self.code = code
            self.severity = severity
            self.object = object
            self.message = message
        }
    }

    public var version: Int
    public var event: Kind
    public var jobID: String
    public var runID: String?
    public var district: String
    /// `completed`, `dry_run`, `held`, `over_license`, `revoked`, `paused`, `failed`, ...
    public var outcome: String
    /// Per kind (`students`, `schools`, ...), per change (`created`, `updated`, `unchanged`,
    /// `soft_deleted`, `restored`).
    public var counts: [String: [String: Int]]
    /// Seconds per phase (`fetch`, `stage`, `plan`, `apply`).
    public var phases: [String: Double]
    public var findings: [String: Int]
    public var firstFindings: [FindingSummary]
    public var durationSeconds: Double
    public var attempt: Int
    public var worker: String
    /// A short, operator-safe reason for failed and blocked jobs.
    public var error: String?
    public var finishedAt: Date

    enum CodingKeys: String, CodingKey {
        case version, event
        case jobID = "job_id"
        case runID = "run_id"
        case district, outcome, counts, phases, findings
        case firstFindings = "first_findings"
        case durationSeconds = "duration_seconds"
        case attempt, worker, error
        case finishedAt = "finished_at"
    }

    public init(
        event: Kind, jobID: String, runID: String?, district: String, outcome: String,
        counts: [String: [String: Int]] = [:], phases: [String: Double] = [:], findings: [String: Int] = [:],
        firstFindings: [FindingSummary] = [], durationSeconds: Double, attempt: Int, worker: String,
        error: String? = nil, finishedAt: Date = Date()
    ) {
        self.version = Self.currentVersion
        self.event = event
        self.jobID = jobID
        self.runID = runID
        self.district = district
        self.outcome = outcome
        self.counts = counts
        self.phases = phases
        self.findings = findings
        self.firstFindings = firstFindings
        self.durationSeconds = durationSeconds
        self.attempt = attempt
        self.worker = worker
        self.error = error
        self.finishedAt = finishedAt
    }
}

/// JSON coding for messages: ISO 8601 dates with fractional seconds, sorted keys.
public enum FleetJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(iso8601(date))
        }
        return try encoder.encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseISO8601(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time")
            }
            return date
        }
        return try decoder.decode(type, from: data)
    }

    public static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    public static func parseISO8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
