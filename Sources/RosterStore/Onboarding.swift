import Foundation
import PostgresClient
import RosterCore

/// A district's request to roster through Clever, as `district connect` records it.
public struct ConnectionRequest: Sendable, Equatable {
    /// Which account connects: one that exists, or a new district account.
    public enum Account: Sendable, Equatable {
        case existing(id: Int)
        case new(name: String)
    }

    public var account: Account
    /// The district's Clever id; the district row is keyed by it.
    public var districtCleverID: String
    /// The district's name; nil (the default) takes the account's name.
    public var districtName: String?
    /// The district's Typing Agent username, kept as given; nil by default.
    public var accountUsername: String?
    /// The domain of the district's usernames; required for a new account, nil keeps an existing one's.
    public var usernameDomain: String?
    /// School names as the district writes them.
    public var schoolNames: [String]
    public var grades: GradeSelection
    /// Student licenses bought.
    public var licenses: Int
    /// `YYYY-MM-DD`; the first sync runs at the first nightly window on or after it.
    public var startDate: String

    public init(
        account: Account, districtCleverID: String, districtName: String? = nil, accountUsername: String? = nil,
        usernameDomain: String? = nil, schoolNames: [String], grades: GradeSelection, licenses: Int,
        startDate: String
    ) {
        self.account = account
        self.districtCleverID = districtCleverID
        self.districtName = districtName
        self.accountUsername = accountUsername
        self.usernameDomain = usernameDomain
        self.schoolNames = schoolNames
        self.grades = grades
        self.licenses = licenses
        self.startDate = startDate
    }

    /// Reads `--schools "Name A;Name B"`: names split on `;`, trimmed, blanks dropped.
    public static func schoolNames(from text: String) -> [String] {
        text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// A recorded connection request, as `district connect` prints it and preflight and activation read it.
public struct ConnectionRequestRecord: Sendable, Codable, Equatable {
    public var accountID: Int
    public var districtCleverID: String
    public var status: DistrictStatus
    public var accountUsername: String?
    public var usernameDomain: String?
    public var schoolNames: [String]
    /// Canonical grade names, nil for all grades.
    public var grades: [String]?
    public var licenses: Int
    public var startDate: String

    enum CodingKeys: String, CodingKey {
        case accountID = "account_id", districtCleverID = "district", status
        case accountUsername = "account_username", usernameDomain = "username_domain"
        case schoolNames = "school_names", grades, licenses, startDate = "start_date"
    }
}

/// An error of onboarding, with a code a program can switch on. `description` names accounts, districts
/// and schools (which districts write themselves), never a person.
public struct OnboardingError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable, Codable {
        case accountNotFound = "account_not_found"
        /// A school or teacher account asked to connect.
        case notDistrictAccount = "not_district_account"
        /// The account's district is already past `pending`.
        case alreadyConnected = "already_connected"
        /// Another account already holds the district's Clever id.
        case districtExists = "district_exists"
        case districtNotFound = "district_not_found"
        /// Preflight or activation of a district with no connection request.
        case requestNotFound = "request_not_found"
        /// Activation of a district that is not pending.
        case notPending = "not_pending"
        /// A requested school matches no shared Clever school, or several.
        case schoolsUnmatched = "schools_unmatched"
        case invalidRequest = "invalid_request"
        /// Reading the district from Clever failed.
        case sourceFailed = "source_failed"
        case database
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func wrapping(_ error: any Error) -> OnboardingError {
        if let error = error as? OnboardingError { return error }
        if let error = error as? SyncError {
            return OnboardingError(error.code == .districtNotFound ? .districtNotFound : .database, error.message)
        }
        if let error = error as? PostgresError { return OnboardingError(.database, error.description) }
        return OnboardingError(.database, String(describing: error))
    }
}

/// The onboarding steps of a district: the connection request, the preflight against Clever's data and
/// the activation that turns the request into the district's settings.
public final class Onboarding {
    let connection: PostgresConnection

    /// Opens its own connection.
    public init(databaseURL: String) throws {
        do {
            connection = try PostgresConnection(url: databaseURL)
        } catch {
            throw OnboardingError.wrapping(error)
        }
    }

    /// Records the request and creates the district row with status `pending`, which the fleet does not
    /// sync. Asking again while pending replaces the request.
    ///
    /// - Throws: `OnboardingError` `.invalidRequest`, `.accountNotFound`, `.notDistrictAccount`,
    ///   `.alreadyConnected`, `.districtExists` or `.database`.
    @discardableResult
    public func connect(_ request: ConnectionRequest) throws -> ConnectionRequestRecord {
        try validate(request)
        do {
            let accountID = try connection.transaction { () -> Int in
                let accountID = try account(for: request)
                try upsertDistrict(request, accountID: accountID)
                try connection.run(
                    """
                    INSERT INTO onboarding_requests (account_id, account_username, username_domain, school_names,
                        grades, licenses, start_date)
                    VALUES ($account::bigint, $username, $domain, $schools::text[], $grades::text[],
                        $licenses::integer, $start::date)
                    ON CONFLICT (account_id) DO UPDATE SET account_username = excluded.account_username,
                        username_domain = excluded.username_domain, school_names = excluded.school_names,
                        grades = excluded.grades, licenses = excluded.licenses, start_date = excluded.start_date,
                        requested_at = now(), activated_at = NULL
                    """,
                    [
                        "account": accountID, "username": request.accountUsername,
                        "domain": request.usernameDomain, "schools": PostgresTextArray(request.schoolNames),
                        "grades": request.grades.sortedGrades.map(PostgresTextArray.init),
                        "licenses": request.licenses, "start": request.startDate,
                    ])
                return accountID
            }
            return try self.request(accountID: accountID)
        } catch {
            throw OnboardingError.wrapping(error)
        }
    }

    /// The district's recorded request.
    ///
    /// - Throws: `OnboardingError` `.districtNotFound`, `.requestNotFound` or `.database`.
    public func request(districtCleverID: String) throws -> ConnectionRequestRecord {
        do {
            guard
                let row = try connection.run(
                    "SELECT account_id FROM districts WHERE clever_id = $district", ["district": districtCleverID]
                ).first
            else {
                throw OnboardingError(.districtNotFound, "no district with Clever id \(districtCleverID) is set up")
            }
            return try request(accountID: try row.int("account_id"))
        } catch {
            throw OnboardingError.wrapping(error)
        }
    }

    /// Copies the requested schools (matched by name to the schools Clever shares, ignoring case and
    /// spaces), grades, licenses and start date into the district's settings and marks it connected; the
    /// fleet syncs it first at the nightly window on or after the start date.
    ///
    /// - Parameter source: the district's Clever data; only its schools are read.
    /// - Throws: `OnboardingError` `.schoolsUnmatched` naming every requested school with no match or
    ///   several, `.notPending`, `.requestNotFound`, `.sourceFailed` or `.database`; nothing changes then.
    @discardableResult
    public func activate(districtCleverID: String, source: any CleverDistrictSource) throws -> DistrictSettings {
        let request = try self.request(districtCleverID: districtCleverID)
        guard request.status == .pending else {
            throw OnboardingError(
                .notPending, "district \(districtCleverID) is \(request.status.rawValue), not pending")
        }
        let shared = try Self.sharedSchools(of: districtCleverID, from: source)
        let match = SchoolNameMatch(requested: request.schoolNames, shared: shared)
        if let problem = match.problem {
            throw OnboardingError(.schoolsUnmatched, "district \(districtCleverID) cannot be activated: \(problem)")
        }
        do {
            let directory = DistrictDirectory(connection: connection)
            try connection.transaction {
                try directory.update(
                    cleverID: districtCleverID,
                    DistrictSettingsChange(
                        schools: .only(match.matched.map(\.cleverID)),
                        grades: request.grades.map { .only(Set($0)) } ?? .all,
                        licenses: .some(request.licenses), startDate: .some(request.startDate)))
                try connection.run(
                    """
                    UPDATE districts SET status = 'connected', updated_at = now()
                    WHERE account_id = $account::bigint AND status = 'pending'
                    """, ["account": request.accountID])
                try connection.run(
                    "UPDATE onboarding_requests SET activated_at = now() WHERE account_id = $account::bigint",
                    ["account": request.accountID])
            }
            return try directory.settings(districtCleverID)
        } catch {
            throw OnboardingError.wrapping(error)
        }
    }

    // MARK: - Connect

    private func validate(_ request: ConnectionRequest) throws {
        func invalid(_ message: String) -> OnboardingError { OnboardingError(.invalidRequest, message) }
        if request.districtCleverID.trimmingCharacters(in: .whitespaces).isEmpty {
            throw invalid("--clever-id must name the district's Clever id")
        }
        if request.schoolNames.isEmpty { throw invalid("--schools must name at least one school") }
        let keys = request.schoolNames.map(SchoolNameMatch.key)
        if let repeated = request.schoolNames.first(where: { name in
            keys.filter { $0 == SchoolNameMatch.key(name) }.count > 1
        }) {
            throw invalid("--schools names '\(repeated)' more than once")
        }
        if request.licenses < 0 { throw invalid("--licenses must be 0 or more") }
        if !DistrictSettingsChange.isDate(request.startDate) { throw invalid("--start-date must be YYYY-MM-DD") }
        if case .new = request.account, request.usernameDomain == nil {
            throw invalid("--domain is required when a new district account is created")
        }
        if let domain = request.usernameDomain, domain.isEmpty || domain.contains(where: \.isWhitespace) {
            throw invalid("--domain must be a domain such as schools.example.org")
        }
    }

    /// The account that connects: checked to be a district account, or created as one.
    private func account(for request: ConnectionRequest) throws -> Int {
        switch request.account {
        case .new(let name):
            return try connection.run(
                "INSERT INTO accounts (kind, name, username_domain) VALUES ('district', $name, $domain) RETURNING id",
                ["name": name, "domain": request.usernameDomain]
            ).first!.int("id")
        case .existing(let id):
            guard
                let row = try connection.run("SELECT kind FROM accounts WHERE id = $id::bigint", ["id": id]).first
            else { throw OnboardingError(.accountNotFound, "no account \(id)") }
            let kind = try row.string("kind")
            guard kind == "district" else {
                throw OnboardingError(
                    .notDistrictAccount,
                    "account \(id) is a \(kind) account; only a district account can connect to Clever")
            }
            if let domain = request.usernameDomain {
                try connection.run(
                    "UPDATE accounts SET username_domain = $domain WHERE id = $id::bigint",
                    ["id": id, "domain": domain])
            }
            return id
        }
    }

    private func upsertDistrict(_ request: ConnectionRequest, accountID: Int) throws {
        let holder = try connection.run(
            "SELECT account_id FROM districts WHERE clever_id = $district", ["district": request.districtCleverID]
        ).first
        if let holder, try holder.int("account_id") != accountID {
            throw OnboardingError(
                .districtExists,
                "district \(request.districtCleverID) is already set up for account \(try holder.int("account_id"))")
        }
        let name =
            try request.districtName
            ?? connection.run("SELECT name FROM accounts WHERE id = $id::bigint", ["id": accountID]).first!.string(
                "name")
        if let current = try connection.run(
            "SELECT clever_id, status FROM districts WHERE account_id = $account::bigint", ["account": accountID]
        ).first {
            let status = try current.string("status")
            guard status == DistrictStatus.pending.rawValue else {
                throw OnboardingError(
                    .alreadyConnected,
                    "account \(accountID) is already set up as district \(try current.string("clever_id")) "
                        + "(status \(status)); a new request is only taken while pending")
            }
            try connection.run(
                """
                UPDATE districts SET clever_id = $district, name = $name, updated_at = now()
                WHERE account_id = $account::bigint
                """, ["account": accountID, "district": request.districtCleverID, "name": name])
        } else {
            try connection.run(
                """
                INSERT INTO districts (account_id, clever_id, name, status)
                VALUES ($account::bigint, $district, $name, 'pending')
                """, ["account": accountID, "district": request.districtCleverID, "name": name])
        }
    }

    func request(accountID: Int) throws -> ConnectionRequestRecord {
        guard
            let row = try connection.run(
                """
                SELECT r.account_id, d.clever_id, d.status, r.account_username, r.username_domain, r.school_names,
                    r.grades, r.licenses, r.start_date::text AS start_date
                FROM onboarding_requests r JOIN districts d ON d.account_id = r.account_id
                WHERE r.account_id = $account::bigint
                """, ["account": accountID]
            ).first
        else {
            throw OnboardingError(
                .requestNotFound, "account \(accountID) has no connection request; run district connect first")
        }
        return ConnectionRequestRecord(
            accountID: try row.int("account_id"), districtCleverID: try row.string("clever_id"),
            status: DistrictStatus(rawValue: try row.string("status")) ?? .pending,
            accountUsername: try row.optionalString("account_username"),
            usernameDomain: try row.optionalString("username_domain"), schoolNames: try row.stringArray("school_names"),
            grades: try row.value("grades") == nil ? nil : try row.stringArray("grades"),
            licenses: try row.int("licenses"), startDate: try row.string("start_date"))
    }

    // MARK: - Clever's schools

    /// The schools Clever shares for the district, by id, read from the source's school batches; the
    /// fetch stops once they are in, since the sources deliver schools before sections and users.
    static func sharedSchools(of districtCleverID: String, from source: any CleverDistrictSource) throws
        -> [SharedSchool]
    {
        struct Enough: Error {}
        var schools: [String: SharedSchool] = [:]
        var seenSchools = false
        do {
            _ = try source.fetchAll { batch in
                switch batch {
                case .schools(let records):
                    seenSchools = true
                    for school in records where (school.district ?? districtCleverID) == districtCleverID {
                        schools[school.id] = schools[school.id] ?? SharedSchool(cleverID: school.id, name: school.name)
                    }
                case .sections, .users:
                    if seenSchools { throw Enough() }
                case .districts, .terms:
                    break
                }
            }
        } catch is Enough {
            // Stopped on purpose: the schools are in.
        } catch {
            throw OnboardingError(.sourceFailed, "reading district \(districtCleverID) from Clever failed: \(error)")
        }
        return schools.values.sorted { $0.cleverID < $1.cleverID }
    }
}

/// A school Clever shares for the district.
public struct SharedSchool: Sendable, Codable, Equatable {
    public var cleverID: String
    /// Nil when Clever gives the school no name.
    public var name: String?

    public init(cleverID: String, name: String?) {
        self.cleverID = cleverID
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case cleverID = "clever_id", name
    }
}

/// Requested school names matched to shared Clever schools by name, ignoring case and every space.
public struct SchoolNameMatch: Sendable, Codable, Equatable {
    public struct Matched: Sendable, Codable, Equatable {
        /// The name as the district wrote it.
        public var requested: String
        public var cleverID: String
        /// The name as Clever has it.
        public var cleverName: String

        public init(requested: String, cleverID: String, cleverName: String) {
            self.requested = requested
            self.cleverID = cleverID
            self.cleverName = cleverName
        }

        enum CodingKeys: String, CodingKey {
            case requested, cleverID = "clever_id", cleverName = "clever_name"
        }
    }

    public struct Ambiguous: Sendable, Codable, Equatable {
        public var requested: String
        public var cleverIDs: [String]

        public init(requested: String, cleverIDs: [String]) {
            self.requested = requested
            self.cleverIDs = cleverIDs
        }

        enum CodingKeys: String, CodingKey {
            case requested, cleverIDs = "clever_ids"
        }
    }

    public var matched: [Matched] = []
    /// Requested names no shared school carries.
    public var missing: [String] = []
    /// Requested names several shared schools carry.
    public var ambiguous: [Ambiguous] = []
    /// Shared schools no requested name matches.
    public var extra: [SharedSchool] = []

    public init(requested: [String], shared: [SharedSchool]) {
        var used = Set<String>()
        for name in requested {
            let candidates = shared.filter { $0.name.map(Self.key) == Self.key(name) }
            switch candidates.count {
            case 0: missing.append(name)
            case 1:
                matched.append(
                    Matched(requested: name, cleverID: candidates[0].cleverID, cleverName: candidates[0].name!))
                used.insert(candidates[0].cleverID)
            default:
                ambiguous.append(Ambiguous(requested: name, cleverIDs: candidates.map(\.cleverID)))
                used.formUnion(candidates.map(\.cleverID))
            }
        }
        extra = shared.filter { !used.contains($0.cleverID) }
    }

    /// What stops an activation, naming the schools; nil when every requested name has one match.
    public var problem: String? {
        var parts: [String] = []
        if !missing.isEmpty {
            parts.append("no shared Clever school is named " + missing.map { "'\($0)'" }.joined(separator: ", "))
        }
        for entry in ambiguous {
            parts.append(
                "'\(entry.requested)' matches \(entry.cleverIDs.count) shared schools (\(entry.cleverIDs.joined(separator: ", ")))"
            )
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The comparison key of a school name: lowercased, without any whitespace.
    static func key(_ name: String) -> String {
        String(name.lowercased().filter { !$0.isWhitespace })
    }
}
