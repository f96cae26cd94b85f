/// A batch of records of one collection, as one page of the API gives them.
public enum CleverBatch: Sendable {
    case districts([CleverDistrict])
    case schools([CleverSchool])
    case terms([CleverTerm])
    case sections([CleverSection])
    /// Users of any role. A user who holds several roles may come in more than one batch, once per role
    /// list; consumers must treat the same id twice as one user.
    case users([CleverUser])

    public var count: Int {
        switch self {
        case .districts(let records): return records.count
        case .schools(let records): return records.count
        case .terms(let records): return records.count
        case .sections(let records): return records.count
        case .users(let records): return records.count
        }
    }
}

/// What a fetch did, for the run's record and the benchmarks.
public struct CleverFetchStats: Sendable, Equatable {
    public var pages = 0
    public var requests = 0
    public var retries = 0
    public var records = 0
    public var bytes = 0
    /// Seconds spent decoding JSON, summed over threads.
    public var decodeSeconds = 0.0

    public init() {}
}

/// Where a district's Clever data comes from: the live API, the stand-in, or a dataset folder.
public protocol CleverDistrictSource {
    /// Delivers every record of the district to `consume`, batch by batch.
    ///
    /// `consume` is called on the calling thread, one batch at a time, while the source may fetch and
    /// decode further pages in the background (with a bound on pages in flight). If fetching fails,
    /// or `consume` throws, the call throws: a failed fetch never looks like a complete (or empty)
    /// district.
    func fetchAll(_ consume: (CleverBatch) throws -> Void) throws -> CleverFetchStats
}
