import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterSupport
import RosterTestSupport
import XCTest

/// Connection requests, preflight and activation, on Clever's real demo district.
final class OnboardingTests: StoreTestCase {
    static let demo = DemoDistrictTests.demo
    static let high = "5a25ff950a5f621109000004"
    static let elementary = "5a25ff950a5f621109000005"
    static let middle = "5a25ff950a5f621109000006"
    static let allSchools = ["Demo High School", "Demo Elementary School", "Demo Middle School"]

    var onboarding: Onboarding!

    override func setUpWithError() throws {
        try super.setUpWithError()
        onboarding = try Onboarding(databaseURL: database.url)
    }

    override func tearDown() {
        onboarding = nil
        super.tearDown()
    }

    func demoSource() throws -> CleverDatasetSource {
        CleverDatasetSource(folder: try DemoDistrictTests.demoFolder(), batchSize: 500)
    }

    @discardableResult
    func connectDemo(
        schools: [String] = OnboardingTests.allSchools, grades: GradeSelection = .all, licenses: Int = 1100
    ) throws -> ConnectionRequestRecord {
        try onboarding.connect(
            ConnectionRequest(
                account: .new(name: "Demo District"), districtCleverID: Self.demo, accountUsername: "demo.admin",
                usernameDomain: "demo.example.org", schoolNames: schools, grades: grades, licenses: licenses,
                startDate: "2026-09-01"))
    }

    func preflight(minimum: Int = 100) throws -> PreflightReport {
        try Onboarding.preflight(
            databaseURL: database.url, districtCleverID: Self.demo, source: try demoSource(),
            options: PreflightOptions(minimumStudentsPerSchool: minimum))
    }

    /// Rows of every roster table, so a test can tell that nothing was written.
    func rosterRowCounts() throws -> [String: Int] {
        let connection = try database.connect()
        var counts: [String: Int] = [:]
        for table in [
            "accounts", "districts", "schools", "classrooms", "users", "user_schools", "enrollments",
            "sync_runs", "onboarding_requests", "csv_admins",
        ] {
            counts[table] = try connection.query("SELECT count(*) AS n FROM \(table)").first!.int("n")
        }
        return counts
    }

    // MARK: - Connect

    func testConnectRecordsTheRequestAndLeavesTheDistrictPending() throws {
        let record = try connectDemo(schools: ["Demo High School", " Demo Middle School "], grades: .parse("K-2"))
        XCTAssertEqual(record.status, .pending)
        XCTAssertEqual(record.districtCleverID, Self.demo)
        XCTAssertEqual(record.accountUsername, "demo.admin")
        XCTAssertEqual(record.usernameDomain, "demo.example.org")
        XCTAssertEqual(record.schoolNames, ["Demo High School", " Demo Middle School "])
        XCTAssertEqual(record.grades, ["Kindergarten", "1", "2"])
        XCTAssertEqual(record.licenses, 1100)
        XCTAssertEqual(record.startDate, "2026-09-01")

        let settings = try directory.settings(Self.demo)
        XCTAssertEqual(settings.status, .pending)
        XCTAssertNil(settings.schools)
        XCTAssertNil(settings.licenses)
        let account = try database.connect().query(
            "SELECT kind, name, username_domain FROM accounts WHERE id = $1", [record.accountID]
        ).first!
        XCTAssertEqual(try account.string("kind"), "district")
        XCTAssertEqual(try account.string("name"), "Demo District")
        XCTAssertEqual(try account.string("username_domain"), "demo.example.org")
    }

    func testAPendingDistrictIsNotSyncedByTheFleet() throws {
        try connectDemo()
        XCTAssertThrowsError(try sync(try demoSource(), district: Self.demo)) { error in
            XCTAssertEqual((error as? SyncError)?.code, .districtNotConnected)
        }
    }

    func testOnlyADistrictAccountMayConnect() throws {
        let connection = try database.connect()
        for kind in ["school", "teacher"] {
            let id = try connection.query(
                "INSERT INTO accounts (kind, name) VALUES ($1, 'Some account') RETURNING id", [kind]
            ).first!.int("id")
            let request = ConnectionRequest(
                account: .existing(id: id), districtCleverID: Self.demo, schoolNames: ["Demo High School"],
                grades: .all, licenses: 10, startDate: "2026-09-01")
            XCTAssertThrowsError(try onboarding.connect(request)) { error in
                XCTAssertEqual((error as? OnboardingError)?.code, .notDistrictAccount)
                XCTAssertEqual(
                    "\(error)",
                    "not_district_account: account \(id) is a \(kind) account; only a district account can connect "
                        + "to Clever")
            }
        }
        XCTAssertEqual(try rosterRowCounts()["districts"], 0)
    }

    func testAnExistingDistrictAccountConnectsAndAConnectedOneIsRefused() throws {
        let connection = try database.connect()
        let id = try connection.query(
            "INSERT INTO accounts (kind, name) VALUES ('district', 'Old customer') RETURNING id"
        ).first!.int("id")
        let request = ConnectionRequest(
            account: .existing(id: id), districtCleverID: Self.demo, usernameDomain: "old.example.org",
            schoolNames: ["Demo High School"], grades: .all, licenses: 500, startDate: "2026-09-01")
        XCTAssertEqual(try onboarding.connect(request).accountID, id)
        XCTAssertEqual(try directory.settings(Self.demo).name, "Old customer")

        try directory.setStatus(cleverID: Self.demo, .connected)
        XCTAssertThrowsError(try onboarding.connect(request)) { error in
            XCTAssertEqual((error as? OnboardingError)?.code, .alreadyConnected)
        }
    }

    // MARK: - Preflight on the demo district

    func testPreflightOfTheDemoWithEveryRequestedSchoolShared() throws {
        try connectDemo()
        let before = try rosterRowCounts()
        let writes = try rosterFingerprint()

        let report = try preflight()

        XCTAssertEqual(report.schools.matched.map(\.cleverID), [Self.high, Self.elementary, Self.middle])
        XCTAssertEqual(report.schools.missing, [])
        XCTAssertEqual(report.schools.ambiguous, [])
        XCTAssertEqual(report.schools.extra, [])
        XCTAssertEqual(
            report.classrooms.perSchool,
            [
                .init(cleverID: Self.high, count: 165), .init(cleverID: Self.elementary, count: 127),
                .init(cleverID: Self.middle, count: 86),
            ])
        XCTAssertEqual(report.classrooms.schoolsWithNone, [])
        XCTAssertEqual(report.existingUsers, [:])
        XCTAssertEqual(report.licenses, .init(licenses: 1100, studentsToRoster: 1004, enough: true))
        XCTAssertEqual(report.usernames, .init(linked: 0, notLinked: 0, conflicts: 3))
        XCTAssertEqual(report.outcome.created, 1094)
        XCTAssertEqual(report.outcome.linked, 0)
        XCTAssertEqual(report.outcome.softDeleted, 0)
        XCTAssertEqual(report.outcome.counts["classrooms"], KindCounts(created: 378))
        XCTAssertEqual(report.outcome.counts["enrollments"], KindCounts(created: 8900))
        XCTAssertEqual(report.smallSchools, [])
        XCTAssertEqual(report.studentsInSeveralSchools.count, 264)
        XCTAssertEqual(
            report.studentsInSeveralSchools.prefix(2),
            [
                .init(cleverID: "5a25ffb0c1bc2a00360003ee", count: 2),
                .init(cleverID: "5a25ffb0c1bc2a00360003f3", count: 3),
            ])

        XCTAssertEqual(try rosterRowCounts(), before)
        XCTAssertEqual(try rosterFingerprint(), writes)
    }

    func testPreflightNamesTheMissingAndTheExtraSchool() throws {
        try connectDemo(schools: ["demo HIGH school", "Demo  Elementary School", "Nowhere Middle"], licenses: 700)

        let report = try preflight(minimum: 300)

        XCTAssertEqual(
            report.schools.matched,
            [
                .init(requested: "demo HIGH school", cleverID: Self.high, cleverName: "Demo High School"),
                .init(
                    requested: "Demo  Elementary School", cleverID: Self.elementary,
                    cleverName: "Demo Elementary School"),
            ])
        XCTAssertEqual(report.schools.missing, ["Nowhere Middle"])
        XCTAssertEqual(report.schools.extra, [SharedSchool(cleverID: Self.middle, name: "Demo Middle School")])
        XCTAssertEqual(report.licenses, .init(licenses: 700, studentsToRoster: 770, enough: false))
        XCTAssertEqual(report.smallSchools, [])
        XCTAssertEqual(report.outcome.counts["schools"], KindCounts(created: 2))

        let strict = try preflight(minimum: 380)
        XCTAssertEqual(strict.smallSchools, [.init(cleverID: Self.elementary, count: 378)])
    }

    func testPreflightCountsOnlyTheRequestedGrades() throws {
        try connectDemo(grades: try .parse("K"))
        let report = try preflight()
        XCTAssertEqual(report.licenses.studentsToRoster, try kindergartners())
        XCTAssertEqual(report.smallSchools.map(\.cleverID), [Self.high, Self.elementary, Self.middle])
    }

    /// Kindergarten students in the demo's users.json, counted here independently of the sync.
    func kindergartners() throws -> Int {
        let data = try Data(contentsOf: try DemoDistrictTests.demoFolder().appendingPathComponent("users.json"))
        let pages = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return (pages["data"] as! [[String: Any]]).filter { entry in
            let user = entry["data"] as! [String: Any]
            let student = (user["roles"] as? [String: Any])?["student"] as? [String: Any]
            return (student?["grade"] as? String) == "Kindergarten"
        }.count
    }

    func testPreflightOfADistrictWithPriorUsersCountsLinksDeletionsAndCreations() throws {
        try connectDemo()
        // Three students' district_usernames, one in other case; a student and a teacher Clever does not
        // know; a teacher holding a student's username, which does not link across kinds.
        for name in ["STEVEZ33", "douglasw58", "joel42", "ghost.student"] {
            try insertUser(name, role: "student", source: "native", district: Self.demo)
        }
        try insertUser("no.such.teacher", role: "teacher", source: "native", district: Self.demo)
        try insertUser("evalynb40", role: "teacher", source: "native", district: Self.demo)
        let before = try rosterRowCounts()
        let writes = try rosterFingerprint()

        let report = try preflight()

        XCTAssertEqual(report.existingUsers, ["student": 4, "teacher": 2])
        XCTAssertEqual(report.usernames, .init(linked: 3, notLinked: 3, conflicts: 4))
        XCTAssertEqual(report.outcome.linked, 3)
        XCTAssertEqual(report.outcome.softDeleted, 3)
        XCTAssertEqual(report.outcome.created, 1091)
        XCTAssertEqual(report.outcome.counts["students"], KindCounts(created: 1001, updated: 3, softDeleted: 1))
        XCTAssertEqual(report.outcome.counts["staff"], KindCounts(created: 90, softDeleted: 2))
        XCTAssertEqual(try rosterRowCounts(), before)
        XCTAssertEqual(try rosterFingerprint(), writes)

        // The first sync, under the same settings, does what the preflight said.
        try onboarding.activate(districtCleverID: Self.demo, source: try demoSource())
        let run = try sync(try demoSource(), district: Self.demo)
        XCTAssertEqual(run.counts(.students), KindCounts(created: 1001, updated: 3, softDeleted: 1))
        XCTAssertEqual(run.counts(.staff), KindCounts(created: 90, softDeleted: 2))
        let linked = try database.connect().query(
            "SELECT username FROM users WHERE source = 'clever' AND username IN ('STEVEZ33', 'douglasw58', 'joel42') "
                + "AND deleted_at IS NULL ORDER BY username")
        XCTAssertEqual(try linked.map { try $0.string("username") }, ["STEVEZ33", "douglasw58", "joel42"])
    }

    func testPreflightReadsTheDistrictThroughTheCleverStandin() throws {
        let standin = try CleverStandin()
        try connectDemo()
        var configuration = CleverConfiguration()
        configuration.apiURL = standin.url
        configuration.oauthURL = standin.url
        configuration.clientID = CleverStandin.clientID
        configuration.clientSecret = CleverStandin.clientSecret
        let logger = Logger(label: "test", level: .warning)
        let token = try CleverOAuth(configuration: configuration, logger: logger).listDistrictTokens()
            .first { $0.districtID == Self.demo }!
        let fetcher = CleverFetcher(token: token.token, configuration: configuration, logger: logger)

        let report = try Onboarding.preflight(databaseURL: database.url, districtCleverID: Self.demo, source: fetcher)

        XCTAssertEqual(report.schools.matched.count, 3)
        XCTAssertEqual(report.licenses.studentsToRoster, 1004)
        XCTAssertEqual(report.outcome.created, 1094)
        XCTAssertEqual(report.studentsInSeveralSchools.count, 264)
    }

    func testPreflightWithoutARequestIsRefused() throws {
        try addDistrict(Self.demo)
        XCTAssertThrowsError(try preflight()) { error in
            XCTAssertEqual((error as? OnboardingError)?.code, .requestNotFound)
        }
    }

    // MARK: - Activate

    func testActivationCopiesTheRequestIntoTheSettingsAndConnects() throws {
        try connectDemo(schools: ["demo high school", "DEMO MIDDLE SCHOOL"], grades: try .parse("9-12"), licenses: 900)

        let settings = try onboarding.activate(districtCleverID: Self.demo, source: try demoSource())

        XCTAssertEqual(settings.status, .connected)
        XCTAssertEqual(settings.schools, [Self.high, Self.middle])
        XCTAssertEqual(settings.grades, ["9", "10", "11", "12"])
        XCTAssertEqual(settings.licenses, 900)
        XCTAssertEqual(settings.startDate, "2026-09-01")
        let run = try sync(try demoSource(), district: Self.demo)
        XCTAssertEqual(run.outcome, .completed)
        XCTAssertEqual(run.counts(.schools), KindCounts(created: 2))
    }

    func testActivationStopsOnAMissingSchoolAndChangesNothing() throws {
        try connectDemo(schools: ["Demo High School", "Nowhere Middle", "Lost Elementary"])
        let before = try directory.settings(Self.demo)

        XCTAssertThrowsError(try onboarding.activate(districtCleverID: Self.demo, source: try demoSource())) { error in
            XCTAssertEqual((error as? OnboardingError)?.code, .schoolsUnmatched)
            XCTAssertEqual(
                "\(error)",
                "schools_unmatched: district \(Self.demo) cannot be activated: no shared Clever school is named "
                    + "'Nowhere Middle', 'Lost Elementary'")
        }
        XCTAssertEqual(try directory.settings(Self.demo), before)
    }

    func testActivationStopsOnAnAmbiguousSchoolName() throws {
        try connectDemo(schools: ["Twin School"])
        let source = MemorySource(
            districts: [CleverDistrict(id: Self.demo, name: "Demo")],
            schools: [
                CleverSchool(id: "s1", district: Self.demo, name: "Twin School"),
                CleverSchool(id: "s2", district: Self.demo, name: "twin  school"),
            ])

        XCTAssertThrowsError(try onboarding.activate(districtCleverID: Self.demo, source: source)) { error in
            XCTAssertEqual(
                "\(error)",
                "schools_unmatched: district \(Self.demo) cannot be activated: 'Twin School' matches 2 shared schools "
                    + "(s1, s2)")
        }
        XCTAssertEqual(try directory.settings(Self.demo).status, .pending)
    }

    func testActivationOfAConnectedDistrictIsRefused() throws {
        try connectDemo()
        try onboarding.activate(districtCleverID: Self.demo, source: try demoSource())
        XCTAssertThrowsError(try onboarding.activate(districtCleverID: Self.demo, source: try demoSource())) { error in
            XCTAssertEqual((error as? OnboardingError)?.code, .notPending)
        }
    }
}
