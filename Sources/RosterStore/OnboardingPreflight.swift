import Foundation
import PostgresClient
import RosterCore

/// How a preflight runs.
public struct PreflightOptions: Sendable {
    /// Schools with fewer students to roster are listed. Defaults to 100, as the sync's own minimum.
    public var minimumStudentsPerSchool: Int

    public init(minimumStudentsPerSchool: Int = 100) {
        self.minimumStudentsPerSchool = minimumStudentsPerSchool
    }
}

/// The answers of a preflight, each with its figures. Names only schools and Clever ids, never a person.
public struct PreflightReport: Sendable, Codable, Equatable {
    public struct SchoolCount: Sendable, Codable, Equatable {
        public var cleverID: String
        public var count: Int

        public init(cleverID: String, count: Int) {
            self.cleverID = cleverID
            self.count = count
        }

        enum CodingKeys: String, CodingKey {
            case cleverID = "clever_id", count
        }
    }

    /// Classrooms Clever shares, per shared school.
    public struct Classrooms: Sendable, Codable, Equatable {
        public var perSchool: [SchoolCount]
        /// Shared schools with no classroom, by Clever id.
        public var schoolsWithNone: [String]

        enum CodingKeys: String, CodingKey {
            case perSchool = "per_school", schoolsWithNone = "schools_with_none"
        }
    }

    public struct Licenses: Sendable, Codable, Equatable {
        public var licenses: Int
        /// Students the first sync would roster under the requested schools and grades.
        public var studentsToRoster: Int
        public var enough: Bool

        public init(licenses: Int, studentsToRoster: Int, enough: Bool) {
            self.licenses = licenses
            self.studentsToRoster = studentsToRoster
            self.enough = enough
        }

        enum CodingKeys: String, CodingKey {
            case licenses, studentsToRoster = "students_to_roster", enough
        }
    }

    /// How the account's existing usernames meet Clever's `district_username`s.
    public struct Usernames: Sendable, Codable, Equatable {
        /// Active accounts created in the product that the first sync links to a Clever user.
        public var linked: Int
        /// Active accounts created in the product that no Clever user of the same kind asks for.
        public var notLinked: Int
        /// Clever users whose `district_username` is held by another account or wanted by several users;
        /// they get their Clever id as username.
        public var conflicts: Int

        public init(linked: Int, notLinked: Int, conflicts: Int) {
            self.linked = linked
            self.notLinked = notLinked
            self.conflicts = conflicts
        }

        enum CodingKeys: String, CodingKey {
            case linked, notLinked = "not_linked", conflicts
        }
    }

    /// What the first sync would do to the account's users.
    public struct Outcome: Sendable, Codable, Equatable {
        public var softDeleted: Int
        public var linked: Int
        public var created: Int
        /// Per kind (schools, classrooms, students, staff, enrollments), as a sync reports it.
        public var counts: [String: KindCounts]

        enum CodingKeys: String, CodingKey {
            case softDeleted = "soft_deleted", linked, created, counts
        }
    }

    public var district: String
    public var schools: SchoolNameMatch
    public var classrooms: Classrooms
    /// Active users the account already has, per role.
    public var existingUsers: [String: Int]
    public var licenses: Licenses
    public var usernames: Usernames
    public var outcome: Outcome
    /// Shared schools whose students to roster number fewer than the minimum.
    public var smallSchools: [SchoolCount]
    /// Clever students listed in more than one school, with how many; the sync keeps the primary one.
    public var studentsInSeveralSchools: [SchoolCount]

    enum CodingKeys: String, CodingKey {
        case district, schools, classrooms, existingUsers = "existing_users", licenses, usernames, outcome
        case smallSchools = "small_schools", studentsInSeveralSchools = "students_in_several_schools"
    }
}

extension Onboarding {
    /// Checks the district's request against Clever's data before the first sync, and writes nothing.
    ///
    /// Works on a connection of its own: Clever's records are staged and the plan is made by the sync's
    /// own SQL (`SyncStaging`, `SyncSQL`), with the requested schools and grades in place of the district's
    /// settings, all in the run's work schema, dropped when preflight ends. So preflight and the first
    /// sync agree on linking, usernames and counts by construction.
    ///
    /// - Throws: `OnboardingError` `.requestNotFound`, `.districtNotFound`, `.sourceFailed` or `.database`.
    public static func preflight(
        databaseURL: String, districtCleverID: String, source: any CleverDistrictSource,
        options: PreflightOptions = PreflightOptions()
    ) throws -> PreflightReport {
        let onboarding = try Onboarding(databaseURL: databaseURL)
        let request = try onboarding.request(districtCleverID: districtCleverID)
        do {
            return try PreflightRun(connection: onboarding.connection, request: request, options: options)
                .execute(source)
        } catch {
            throw OnboardingError.wrapping(error)
        }
    }
}

/// One preflight on its own connection.
struct PreflightRun {
    let connection: PostgresConnection
    let request: ConnectionRequestRecord
    let options: PreflightOptions

    func execute(_ source: any CleverDistrictSource) throws -> PreflightReport {
        let workspace = try SyncWorkspace.open(connection)
        defer { workspace.close() }
        let staging = SyncStaging(connection: connection)
        try staging.createTables()
        try connection.execute("CREATE TEMP TABLE pf_student_schools (clever_id text NOT NULL, schools int NOT NULL)")
        try fetch(source, into: staging)

        let shared = try sharedSchools()
        let match = SchoolNameMatch(requested: request.schoolNames, shared: shared)
        let first = try connection.run(
            "SELECT first_synced_at IS NULL AS first FROM districts WHERE account_id = $account::bigint",
            ["account": request.accountID]
        ).first!.bool("first")
        let values: [String: (any PostgresBindable)?] = [
            "account": request.accountID, "district": request.districtCleverID, "first": first,
            "approved": PostgresTextArray(match.matched.map(\.cleverID)),
            "grades": request.grades.map(PostgresTextArray.init),
        ]
        try plan(values, first: first)

        let counts = try readCounts()
        let students = counts[RosterKind.students.rawValue]!.activeAfter
        let linked = try count("SELECT count(*) AS n FROM p_users WHERE linked")
        return PreflightReport(
            district: request.districtCleverID, schools: match, classrooms: try classrooms(shared),
            existingUsers: try existingUsers(),
            licenses: PreflightReport.Licenses(
                licenses: request.licenses, studentsToRoster: students, enough: students <= request.licenses),
            usernames: PreflightReport.Usernames(
                linked: linked, notLinked: try notLinked(),
                conflicts: try count("SELECT count(*) AS n FROM f WHERE code = 'username.conflict'")),
            outcome: PreflightReport.Outcome(
                softDeleted: counts[RosterKind.students.rawValue]!.softDeleted
                    + counts[RosterKind.staff.rawValue]!.softDeleted,
                linked: linked,
                created: counts[RosterKind.students.rawValue]!.created + counts[RosterKind.staff.rawValue]!.created,
                counts: counts),
            smallSchools: try schoolCounts(SyncSQL.smallSchools, ["minimum": options.minimumStudentsPerSchool]),
            studentsInSeveralSchools: try schoolCounts(
                """
                SELECT clever_id, max(schools) AS students FROM pf_student_schools
                GROUP BY clever_id ORDER BY clever_id
                """, [:]))
    }

    /// Stages every batch as a sync does, and notes the students Clever lists in several schools.
    private func fetch(_ source: any CleverDistrictSource, into staging: SyncStaging) throws {
        var stageFailure: (any Error)?
        do {
            _ = try source.fetchAll { batch in
                do {
                    try staging.stage(batch)
                    if case .users(let users) = batch { try noteSchools(of: users) }
                } catch {
                    stageFailure = error
                    throw error
                }
            }
        } catch {
            if let stageFailure { throw stageFailure }
            throw OnboardingError(
                .sourceFailed, "reading district \(request.districtCleverID) from Clever failed: \(error)")
        }
        try staging.analyze()
    }

    private func noteSchools(of users: [CleverUser]) throws {
        let several = users.compactMap { user -> (String, Int)? in
            guard let student = user.roles.student,
                (user.district ?? request.districtCleverID) == request.districtCleverID
            else { return nil }
            let schools = Set(([student.school] + student.schools.map(Optional.some)).compactMap { $0 })
            return schools.count > 1 ? (user.id, schools.count) : nil
        }
        guard !several.isEmpty else { return }
        try connection.copyIn("COPY pf_student_schools (clever_id, schools) FROM STDIN") { writer in
            for (id, count) in several { try writer.writeRow([id, String(count)]) }
        }
    }

    private func sharedSchools() throws -> [SharedSchool] {
        try connection.run(
            """
            SELECT DISTINCT ON (clever_id) clever_id, name FROM stg_schools
            WHERE coalesce(district, $district) = $district ORDER BY clever_id, seq
            """, ["district": request.districtCleverID]
        ).map { SharedSchool(cleverID: try $0.string("clever_id"), name: try $0.optionalString("name")) }
    }

    private func plan(_ values: [String: (any PostgresBindable)?], first: Bool) throws {
        try SyncPlanner.plan(connection, values, first: first, logger: nil)
    }

    private func readCounts() throws -> [String: KindCounts] {
        var counts: [String: KindCounts] = [:]
        for kind in RosterKind.allCases { counts[kind.rawValue] = KindCounts() }
        for row in try connection.query(SyncSQL.counts) {
            let kind = try row.string("kind")
            let n = try row.int("n")
            switch try row.string("action") {
            case "create": counts[kind]?.created += n
            case "update": counts[kind]?.updated += n
            case "unchanged": counts[kind]?.unchanged += n
            case "delete": counts[kind]?.softDeleted += n
            case "restore": counts[kind]?.restored += n
            default: break
            }
        }
        return counts
    }

    private func classrooms(_ shared: [SharedSchool]) throws -> PreflightReport.Classrooms {
        var perSchool = Dictionary(uniqueKeysWithValues: shared.map { ($0.cleverID, 0) })
        let rows = try connection.run(
            """
            SELECT school, count(*) AS n FROM c_sections
            WHERE coalesce(district, $district) = $district AND school IS NOT NULL GROUP BY school
            """, ["district": request.districtCleverID])
        for row in rows {
            let school = try row.string("school")
            if perSchool[school] != nil { perSchool[school] = try row.int("n") }
        }
        let counts = perSchool.map { PreflightReport.SchoolCount(cleverID: $0.key, count: $0.value) }
            .sorted { $0.cleverID < $1.cleverID }
        return PreflightReport.Classrooms(
            perSchool: counts, schoolsWithNone: counts.filter { $0.count == 0 }.map(\.cleverID))
    }

    private func existingUsers() throws -> [String: Int] {
        var byRole: [String: Int] = [:]
        for row in try connection.run(
            """
            SELECT role, count(*) AS n FROM users WHERE account_id = $account::bigint AND deleted_at IS NULL
            GROUP BY role
            """, ["account": request.accountID])
        {
            byRole[try row.string("role")] = try row.int("n")
        }
        return byRole
    }

    /// Active native accounts the plan does not link (the first sync soft deletes them).
    private func notLinked() throws -> Int {
        try connection.run(
            """
            SELECT count(*) AS n FROM users d
            WHERE d.account_id = $account::bigint AND d.source = 'native' AND d.deleted_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM p_users p WHERE p.db_id = d.id AND p.linked)
            """, ["account": request.accountID]
        ).first!.int("n")
    }

    private func count(_ sql: String) throws -> Int {
        try connection.query(sql).first!.int("n")
    }

    private func schoolCounts(_ sql: String, _ values: [String: (any PostgresBindable)?]) throws
        -> [PreflightReport.SchoolCount]
    {
        try connection.run(sql, values).map {
            PreflightReport.SchoolCount(cleverID: try $0.string("clever_id"), count: try $0.int("students"))
        }
    }
}
