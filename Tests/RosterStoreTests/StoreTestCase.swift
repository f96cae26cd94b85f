import Foundation
import PostgresClient
import RosterCore
import RosterStore
import RosterSupport
import RosterTestSupport
import XCTest

/// A district's Clever data held in memory, delivered in small batches like API pages.
struct MemorySource: CleverDistrictSource {
    var districts: [CleverDistrict] = []
    var schools: [CleverSchool] = []
    var sections: [CleverSection] = []
    var users: [CleverUser] = []
    /// Records per batch. Defaults to 2, so every test crosses batch boundaries.
    var batchSize = 2
    /// Thrown after the sections were delivered, as a failed page would.
    var failure: (any Error)?
    /// Called at the start of `fetchAll`, to hold a sync in place.
    var onStart: (@Sendable () -> Void)?

    func fetchAll(_ consume: (CleverBatch) throws -> Void) throws -> CleverFetchStats {
        onStart?()
        var stats = CleverFetchStats()
        func deliver<T>(_ records: [T], _ wrap: ([T]) -> CleverBatch) throws {
            var start = 0
            while start < records.count {
                let end = min(start + batchSize, records.count)
                try consume(wrap(Array(records[start..<end])))
                stats.pages += 1
                stats.records += end - start
                start = end
            }
        }
        try deliver(districts) { .districts($0) }
        try deliver(schools) { .schools($0) }
        try deliver(sections) { .sections($0) }
        if let failure { throw failure }
        try deliver(users) { .users($0) }
        return stats
    }
}

struct SourceDown: Error, CustomStringConvertible {
    var description: String { "HTTP 503 from Clever" }
}

/// Builders for small hand-made districts. District `d1`; ids are short and readable.
enum Make {
    static let district = "d1"

    static func school(_ id: String, district: String = Make.district) -> CleverSchool {
        CleverSchool(id: id, district: district, name: "School \(id)")
    }

    static func student(
        _ id: String, school: String?, schools: [String]? = nil, grade: String? = "3", username: String? = nil,
        district: String = Make.district
    ) -> CleverUser {
        CleverUser(
            id: id, district: district, name: CleverName(first: "F\(id)", last: "L\(id)"),
            roles: CleverRoles(
                student: CleverRole(
                    school: school, schools: schools ?? school.map { [$0] } ?? [], grade: grade,
                    districtUsername: username ?? "user.\(id)")))
    }

    static func teacher(_ id: String, schools: [String], username: String? = nil, staffSchools: [String]? = nil)
        -> CleverUser
    {
        CleverUser(
            id: id, district: district, name: CleverName(first: "T\(id)", last: "L\(id)"),
            roles: CleverRoles(
                teacher: CleverRole(school: schools.first, schools: schools, districtUsername: username ?? "t.\(id)"),
                staff: staffSchools.map { CleverRole(school: $0.first, schools: $0) }))
    }

    static func schoolAdmin(_ id: String, schools: [String]) -> CleverUser {
        CleverUser(
            id: id, district: district, name: CleverName(first: "A\(id)", last: "L\(id)"),
            roles: CleverRoles(staff: CleverRole(school: schools.first, schools: schools)))
    }

    static func districtAdmin(_ id: String) -> CleverUser {
        CleverUser(
            id: id, district: district, name: CleverName(first: "D\(id)", last: "L\(id)"),
            roles: CleverRoles(districtAdmin: CleverRole(title: "Admin")))
    }

    static func contact(_ id: String) -> CleverUser {
        CleverUser(id: id, district: district, roles: CleverRoles(contact: CleverRole()))
    }

    static func section(
        _ id: String, school: String?, students: [String] = [], teachers: [String] = [],
        district: String = Make.district
    ) -> CleverSection {
        CleverSection(
            id: id, district: district, school: school, name: "Section \(id)", students: students, teachers: teachers)
    }
}

/// One exported row, decoded for exact comparison.
struct ExportedRoster: Decodable, Equatable {
    struct School: Decodable, Equatable {
        var clever_id: String?
        var name: String
        var active: Bool
    }
    struct Classroom: Decodable, Equatable {
        var clever_id: String?
        var school: String?
        var name: String
        var active: Bool
    }
    struct User: Decodable, Equatable {
        var clever_id: String?
        var username: String
        var role: String
        var schools: [String]
        var source: String
        var active: Bool
    }
    struct Enrollment: Decodable, Equatable {
        var classroom: String?
        var user: String?
        var role: String
        var active: Bool
    }
    var district: String
    var status: String
    var schools: [School]
    var classrooms: [Classroom]
    var users: [User]
    var enrollments: [Enrollment]
}

class StoreTestCase: XCTestCase {
    var database: TestDatabase!
    var syncer: DistrictSyncer!
    var directory: DistrictDirectory!

    override func setUpWithError() throws {
        database = try TestDatabase(prefix: "store")
        try RosterStore.migrate(url: database.url)
        syncer = DistrictSyncer(databaseURL: database.url, logger: Logger(label: "test", level: .warning))
        directory = try DistrictDirectory(databaseURL: database.url)
    }

    override func tearDown() {
        directory = nil
        syncer = nil
        database?.drop()
    }

    @discardableResult
    func addDistrict(_ id: String = Make.district, _ settings: DistrictSettingsChange = .init()) throws
        -> DistrictSettings
    {
        try directory.add(cleverID: id, name: "District \(id)", settings)
    }

    /// Syncs with the school minimum off, so small hand-made districts are not all warned about.
    func sync(
        _ source: any CleverDistrictSource, district: String = Make.district,
        options: SyncOptions = SyncOptions(minimumStudentsPerSchool: 0)
    ) throws -> SyncReport {
        try syncer.sync(districtCleverID: district, source: source, options: options)
    }

    /// Inserts a user the way the product's sign-up or a CSV import would, outside any sync.
    @discardableResult
    func insertUser(
        _ username: String, role: String, source: String, cleverID: String? = nil, deleted: Bool = false,
        district: String = Make.district
    ) throws -> Int {
        let connection = try database.connect()
        return try connection.query(
            """
            INSERT INTO users (account_id, clever_id, source, role, username, deleted_at)
            SELECT account_id, $2, $3, $4, $5, CASE WHEN $6 THEN now() END FROM districts WHERE clever_id = $1
            RETURNING id
            """, [district, cleverID, source, role, username, deleted]
        ).first!.int("id")
    }

    func userID(_ cleverID: String) throws -> Int {
        try database.connect().query("SELECT id FROM users WHERE clever_id = $1", [cleverID]).first!.int("id")
    }

    /// Every user as `clever_id|username|role|schools|source|active`, in export order.
    func allUsers(_ roster: ExportedRoster) -> [String] {
        roster.users.map {
            "\($0.clever_id ?? "-")|\($0.username)|\($0.role)|\($0.schools.joined(separator: ","))|\($0.source)|\($0.active)"
        }
    }

    func allEnrollments(_ roster: ExportedRoster) -> [String] {
        roster.enrollments.map { "\($0.classroom ?? "-") \($0.user ?? "-") \($0.role) \($0.active)" }
    }

    func export(_ district: String = Make.district) throws -> ExportedRoster {
        let text = try RosterExport(databaseURL: database.url).export(districtCleverID: district)
        return try JSONDecoder().decode(ExportedRoster.self, from: Data(text.utf8))
    }

    func findings(_ report: SyncReport) throws -> [Finding] {
        try SyncRunStore(databaseURL: database.url).show(runID: report.runID).findings
    }

    func codes(_ report: SyncReport) throws -> [String] {
        try findings(report).map { "\($0.code) \($0.objectID ?? "-")" }.sorted()
    }

    /// Active users as `username role [schools]`, sorted.
    func activeUsers(_ roster: ExportedRoster) -> [String] {
        roster.users.filter(\.active).map { "\($0.username) \($0.role) \($0.schools.joined(separator: ","))" }
    }

    func activeEnrollments(_ roster: ExportedRoster) -> [String] {
        roster.enrollments.filter(\.active).map { "\($0.classroom ?? "-") \($0.user ?? "-") \($0.role)" }
    }

    /// A fingerprint of every roster row's physical version (ctid and xmin): any insert, update or delete
    /// in the roster tables changes it, also one that rewrites a row with the same values.
    ///
    /// Exact where `pg_stat_user_tables` is not: other backends flush their counters lazily.
    func rosterFingerprint() throws -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for version in try rowVersions() {
            for byte in version.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
            hash = (hash ^ 10) &* 0x100_0000_01b3
        }
        return hash
    }

    /// xmin of every roster row: changes when a row is rewritten, even with the same values.
    func rowVersions() throws -> [String] {
        let connection = try database.connect()
        var versions: [String] = []
        for table in ["schools", "classrooms", "users", "user_schools", "enrollments"] {
            let rows = try connection.query("SELECT ctid::text || xmin::text AS v FROM \(table) ORDER BY 1")
            versions += try rows.map { "\(table) \(try $0.string("v"))" }
        }
        return versions
    }
}
