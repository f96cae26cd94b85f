/// What a sync run ended as.
public enum SyncOutcome: String, Sendable, Codable, CaseIterable {
    /// Still running, or the process died before it could record an end.
    case running
    /// The plan was applied (directly, or later through `runs approve`).
    case completed
    /// A guard stopped the run; the plan is kept for `runs approve` or `runs discard`.
    case held
    /// More students than licenses: nothing applied, the district disconnected.
    case overLicense = "over_license"
    /// An error stopped the run; nothing was applied.
    case failed
    /// The plan and findings were computed and nothing was applied.
    case dryRun = "dry_run"
    /// A held run an operator threw away.
    case discarded
}

/// The kinds of rostered objects a run counts and guards.
public enum RosterKind: String, Sendable, Codable, CaseIterable {
    case schools, classrooms, students, staff, enrollments
}

/// The phases a run times, in order.
public enum SyncPhase: String, Sendable, Codable, CaseIterable {
    case fetch, stage, plan, apply
}

/// What a run does (or would do) to one kind of object.
public struct KindCounts: Sendable, Codable, Equatable {
    public var created: Int
    public var updated: Int
    public var unchanged: Int
    public var softDeleted: Int
    public var restored: Int

    public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0, softDeleted: Int = 0, restored: Int = 0) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
        self.softDeleted = softDeleted
        self.restored = restored
    }

    /// Objects active after the run: everything but the soft deleted.
    public var activeAfter: Int { created + updated + unchanged + restored }
}

public enum FindingSeverity: String, Sendable, Codable, CaseIterable, Comparable {
    case error, warning, info

    private var order: Int {
        switch self {
        case .error: return 0
        case .warning: return 1
        case .info: return 2
        }
    }

    public static func < (lhs: FindingSeverity, rhs: FindingSeverity) -> Bool { lhs.order < rhs.order }
}

/// One decision of a run an operator may want to know about, such as a dropped enrollment.
///
/// Messages name objects by Clever id and never carry a person's name or username.
public struct Finding: Sendable, Codable, Equatable {
    /// A stable dotted code such as `username.conflict`.
    public var code: String
    public var severity: FindingSeverity
    /// `school`, `classroom`, `user`, `district`, or nil for findings about the whole run.
    public var objectKind: String?
    public var objectID: String?
    public var message: String
    /// 1 for a finding about one object; for a summary finding, how many objects it stands for.
    public var count: Int

    public init(
        code: String, severity: FindingSeverity, objectKind: String?, objectID: String?, message: String,
        count: Int = 1
    ) {
        self.code = code
        self.severity = severity
        self.objectKind = objectKind
        self.objectID = objectID
        self.message = message
        self.count = count
    }
}

/// The summary of one sync run, as the fleet and the CLI see it.
public struct SyncReport: Sendable, Codable, Equatable {
    public var runID: String
    public var districtCleverID: String
    public var outcome: SyncOutcome
    /// Counts per `RosterKind` raw value.
    public var counts: [String: KindCounts]
    /// Seconds per `SyncPhase` raw value.
    public var timings: [String: Double]
    /// How many findings of each severity the run made (all of them, also those beyond the stored cap).
    public var findingsBySeverity: [String: Int]
    /// The first findings, most severe first, up to 10.
    public var firstFindings: [Finding]
    /// How many students over the license count, when the run was stopped for it.
    public var licenseOverage: Int?
    /// Why a run was held or failed, for the operator.
    public var reason: String?
    public var durationSeconds: Double

    public init(
        runID: String, districtCleverID: String, outcome: SyncOutcome, counts: [String: KindCounts] = [:],
        timings: [String: Double] = [:], findingsBySeverity: [String: Int] = [:], firstFindings: [Finding] = [],
        licenseOverage: Int? = nil, reason: String? = nil, durationSeconds: Double = 0
    ) {
        self.runID = runID
        self.districtCleverID = districtCleverID
        self.outcome = outcome
        self.counts = counts
        self.timings = timings
        self.findingsBySeverity = findingsBySeverity
        self.firstFindings = firstFindings
        self.licenseOverage = licenseOverage
        self.reason = reason
        self.durationSeconds = durationSeconds
    }

    /// The counts of one kind, zero when the run has none.
    public func counts(_ kind: RosterKind) -> KindCounts { counts[kind.rawValue] ?? KindCounts() }
}
