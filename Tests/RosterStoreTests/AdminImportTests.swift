import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterTestSupport
import XCTest

/// Admins from CSV: parsing through PostgreSQL's CSV COPY, every problem with its line and column, and
/// what the sync does (nothing) to imported admins.
final class AdminImportTests: StoreTestCase {
    static let demo = DemoDistrictTests.demo
    static let high = "5a25ff950a5f621109000004"

    var importer: AdminImporter!

    override func setUpWithError() throws {
        try super.setUpWithError()
        importer = try AdminImporter(databaseURL: database.url)
    }

    override func tearDown() {
        importer = nil
        super.tearDown()
    }

    func demoSource() throws -> CleverDatasetSource {
        CleverDatasetSource(folder: try DemoDistrictTests.demoFolder(), batchSize: 500)
    }

    /// The demo district, synced once, so its schools exist.
    func syncedDemo() throws {
        try addDistrict(Self.demo, DistrictSettingsChange(licenses: .some(1100)))
        XCTAssertEqual(try sync(try demoSource(), district: Self.demo).outcome, .completed)
    }

    func importing(_ text: String, dryRun: Bool = false) throws -> AdminImportResult {
        try importer.importAdmins(csv: Data(text.utf8), districtCleverID: Self.demo, dryRun: dryRun)
    }

    /// The problems of a rejected file, as the command prints them.
    func problems(_ text: String) throws -> [String] {
        do {
            _ = try importing(text)
            XCTFail("the file was accepted")
            return []
        } catch let error as AdminImportError {
            XCTAssertEqual(error.code, .rejected)
            return error.problems.map(\.description)
        }
    }

    /// CSV admins as `username|role|first|last|email|school clever id|source|active`, by username.
    func csvAdmins() throws -> [String] {
        try database.connect().query(
            """
            SELECT u.username, u.role, coalesce(u.first_name, '-') AS first, coalesce(u.last_name, '-') AS last,
                coalesce(a.email, '-') AS email, coalesce(s.clever_id, '-') AS school, u.source,
                (u.deleted_at IS NULL)::text AS active
            FROM users u LEFT JOIN csv_admins a ON a.user_id = u.id
            LEFT JOIN user_schools us ON us.user_id = u.id AND us.deleted_at IS NULL
            LEFT JOIN schools s ON s.id = us.school_id
            WHERE u.source = 'csv' ORDER BY lower(u.username)
            """
        ).map { row in
            try ["username", "role", "first", "last", "email", "school", "source", "active"].map {
                try row.string($0)
            }.joined(separator: "|")
        }
    }

    /// Every CSV admin's row version, to tell that a sync did not even rewrite them.
    func csvAdminVersions() throws -> [String] {
        try database.connect().query(
            """
            SELECT u.id::text || ':' || u.xmin::text || ':' || coalesce(string_agg(us.xmin::text, ','), '') AS v
            FROM users u LEFT JOIN user_schools us ON us.user_id = u.id WHERE u.source = 'csv'
            GROUP BY u.id, u.xmin ORDER BY u.id
            """
        ).map { try $0.string("v") }
    }

    // MARK: - Parsing

    func testAFileWithBOMCRLFQuotesAndLineBreaksImports() throws {
        try syncedDemo()
        let text =
            "\u{FEFF}Role,USERNAME,First_Name,last_name,email,School\r\n"
            + "district_admin,ada.admin,Ada,\"Lovelace, Countess\",ada@demo.example.org,\r\n"
            + "school_admin,\"grace\"\"hop\",\"Grace\r\nMurray\",Hopper,grace@demo.example.org,Demo High School\r\n"
            + "\r\n"
            + "school_admin,Back\\slash,Tab\there,Doe,,\(Self.high)\r\n"

        XCTAssertEqual(try importing(text), AdminImportResult(created: 3, updated: 0, unchanged: 0, dryRun: false))

        XCTAssertEqual(
            try csvAdmins(),
            [
                "ada.admin|district_admin|Ada|Lovelace, Countess|ada@demo.example.org|-|csv|true",
                "Back\\slash|school_admin|Tab\there|Doe|-|\(Self.high)|csv|true",
                "grace\"hop|school_admin|Grace\r\nMurray|Hopper|grace@demo.example.org|\(Self.high)|csv|true",
            ])
    }

    func testLineNumbersCountTheLineBreaksInsideQuotedFields() throws {
        try syncedDemo()
        let text = """
            username,first_name,last_name,email,role,school
            ok.one,"Multi
            line
            name",X,,district_admin,

            ,Blank,User,,district_admin,
            "two
            lines",A,B,,school_admin,Nowhere High
            """
        XCTAssertEqual(
            try problems(text),
            [
                "line 6, column username: blank username",
                "line 7, column school: unknown school 'Nowhere High'",
            ])
    }

    func testARecordWithTheWrongNumberOfFieldsIsNamedByLine() throws {
        let text = "username,first_name,last_name,email,role\na,A,B,,district_admin\nb,B,,district_admin\n"
        try syncedDemo()
        XCTAssertEqual(try problems(text), ["line 3: 4 fields where the header has 5"])
    }

    func testAWrongHeaderIsRejected() throws {
        try syncedDemo()
        XCTAssertEqual(
            try problems("username,first name,email,role,role\n"),
            [
                "line 1, column first name: unknown column (expected username, first_name, last_name, email, role, "
                    + "school)",
                "line 1, column role: the column appears twice",
                "line 1, column first_name: missing column",
                "line 1, column last_name: missing column",
            ])
    }

    // MARK: - Problems

    func testEveryProblemOfAFileIsReportedWithItsLineAndColumnAndNothingIsWritten() throws {
        try syncedDemo()
        let connection = try database.connect()
        try connection.execute(
            "INSERT INTO users (account_id, source, role, username) SELECT account_id, 'native', 'teacher', "
                + "'native.teacher' FROM districts")
        let before = try rosterFingerprint()
        let text = """
            username,first_name,last_name,email,role,school
            good.admin,Good,Admin,good@demo.example.org,district_admin,
            bad.role,Bad,Role,,teacher,Demo High School
            no.school,No,School,,school_admin,
            lost.school,Lost,School,,school_admin,Demo Nowhere School
            ,Blank,Name,,district_admin,
            GOOD.ADMIN,Again,Admin,,district_admin,
            stevez33,Taken,ByClever,,district_admin,
            native.teacher,Taken,ByProduct,,district_admin,
            ,,,,,
            empty.role,Empty,Role,,,
            """

        XCTAssertEqual(
            try problems(text),
            [
                "line 3, column role: unknown role 'teacher' (use district_admin or school_admin)",
                "line 4, column school: a school admin needs a school",
                "line 5, column school: unknown school 'Demo Nowhere School'",
                "line 6, column username: blank username",
                "line 7, column username: duplicate username, first on line 2",
                "line 8, column username: the username belongs to a Clever-rostered account",
                "line 9, column username: the username belongs to an account created in the product",
                "line 11, column role: blank role (use district_admin or school_admin)",
            ])
        XCTAssertEqual(try csvAdmins(), [])
        XCTAssertEqual(try rosterFingerprint(), before)
    }

    func testTheErrorListsEveryProblemOnItsOwnLine() throws {
        try syncedDemo()
        XCTAssertThrowsError(try importing("username,first_name,last_name,email,role\n,A,B,,boss\n")) { error in
            XCTAssertEqual(
                "\(error)",
                """
                the file was not imported: 2 problem(s)
                line 2, column username: blank username
                line 2, column role: unknown role 'boss' (use district_admin or school_admin)
                """)
        }
    }

    func testASchoolNameShownByTwoSchoolsMustBeGivenByItsCleverID() throws {
        try syncedDemo()
        try database.connect().execute(
            "INSERT INTO schools (account_id, source, name) SELECT account_id, 'native', 'demo high  school' FROM districts"
        )
        XCTAssertEqual(
            try problems("username,first_name,last_name,email,role,school\nx,X,Y,,school_admin,Demo High School\n"),
            ["line 2, column school: 'Demo High School' names 2 schools; use the school's Clever id"])
    }

    // MARK: - Writing

    func testImportingTheSameFileTwiceChangesNothingTheSecondTime() throws {
        try syncedDemo()
        let text = """
            username,first_name,last_name,email,role,school
            ada.admin,Ada,Lovelace,ada@demo.example.org,district_admin,
            grace.admin,Grace,Hopper,grace@demo.example.org,school_admin,Demo High School
            """
        XCTAssertEqual(try importing(text), AdminImportResult(created: 2, updated: 0, unchanged: 0, dryRun: false))
        let versions = try csvAdminVersions()
        let writes = try rosterFingerprint()

        XCTAssertEqual(try importing(text), AdminImportResult(created: 0, updated: 0, unchanged: 2, dryRun: false))
        XCTAssertEqual(try csvAdminVersions(), versions)
        XCTAssertEqual(try rosterFingerprint(), writes)
    }

    func testAChangedRowUpdatesTheAdminAndMovesItsSchool() throws {
        try syncedDemo()
        _ = try importing(
            "username,first_name,last_name,email,role,school\ngrace.admin,Grace,Hopper,,school_admin,Demo High School\n"
        )
        let result = try importing(
            "username,first_name,last_name,email,role,school\n"
                + "Grace.Admin,Grace,Hopper,g@demo.example.org,school_admin,Demo Middle School\n"
                + "new.admin,New,Admin,,district_admin,\n")
        XCTAssertEqual(result, AdminImportResult(created: 1, updated: 1, unchanged: 0, dryRun: false))
        XCTAssertEqual(
            try csvAdmins(),
            [
                "Grace.Admin|school_admin|Grace|Hopper|g@demo.example.org|5a25ff950a5f621109000006|csv|true",
                "new.admin|district_admin|New|Admin|-|-|csv|true",
            ])
    }

    func testAFileWhoseLinesEndWithCarriageReturnsAloneIsRead() throws {
        try syncedDemo()
        let result = try importing(
            "username,first_name,last_name,email,role\rada.admin,Ada,Lovelace,,district_admin\r"
                + "grace.admin,Grace,Hopper,,district_admin\r")
        XCTAssertEqual(result, AdminImportResult(created: 2, updated: 0, unchanged: 0, dryRun: false))
        XCTAssertEqual(
            try csvAdmins(),
            [
                "ada.admin|district_admin|Ada|Lovelace|-|-|csv|true",
                "grace.admin|district_admin|Grace|Hopper|-|-|csv|true",
            ])
    }

    func testADryRunCountsAndWritesNothing() throws {
        try syncedDemo()
        let writes = try rosterFingerprint()
        let result = try importing(
            "username,first_name,last_name,email,role\nada.admin,Ada,Lovelace,,district_admin\n", dryRun: true)
        XCTAssertEqual(result, AdminImportResult(created: 1, updated: 0, unchanged: 0, dryRun: true))
        XCTAssertEqual(try csvAdmins(), [])
        XCTAssertEqual(try rosterFingerprint(), writes)
    }

    // MARK: - The sync and CSV admins

    func testTheSyncNeverChangesOrSoftDeletesCSVAdmins() throws {
        // Imported before the first sync, which soft deletes every other account Clever does not share;
        // one admin holds a username a Clever student asks for.
        try addDistrict(Self.demo, DistrictSettingsChange(licenses: .some(1100)))
        _ = try importing(
            "username,first_name,last_name,email,role\n"
                + "ada.admin,Ada,Lovelace,ada@demo.example.org,district_admin\n"
                + "stevez33,Steve,Admin,,district_admin\n")
        let first = try sync(try demoSource(), district: Self.demo)
        XCTAssertEqual(first.outcome, .completed)
        XCTAssertEqual(first.counts(.students), KindCounts(created: 1004))
        let student = try database.connect().query(
            "SELECT username FROM users WHERE clever_id = '5a25ffb0c1bc2a00360003ed'"
        ).first!
        XCTAssertEqual(try student.string("username"), "5a25ffb0c1bc2a00360003ed")

        _ = try importing(
            "username,first_name,last_name,email,role,school\n"
                + "ada.admin,Ada,Lovelace,ada@demo.example.org,district_admin,\n"
                + "stevez33,Steve,Admin,,district_admin,\n"
                + "grace.admin,Grace,Hopper,,school_admin,\(Self.high)\n")
        let admins = try csvAdmins()
        let versions = try csvAdminVersions()

        // Later syncs, one with the school of the school admin no longer approved.
        XCTAssertEqual(try sync(try demoSource(), district: Self.demo).outcome, .completed)
        try directory.update(
            cleverID: Self.demo,
            DistrictSettingsChange(
                schools: .only(["5a25ff950a5f621109000005"]), guardDeletePct: 100, guardUpdatePct: 100))
        let narrowed = try sync(try demoSource(), district: Self.demo)
        XCTAssertEqual(narrowed.outcome, .completed)
        XCTAssertEqual(narrowed.counts(.schools), KindCounts(unchanged: 1, softDeleted: 2))

        XCTAssertEqual(
            admins,
            [
                "ada.admin|district_admin|Ada|Lovelace|ada@demo.example.org|-|csv|true",
                "grace.admin|school_admin|Grace|Hopper|-|\(Self.high)|csv|true",
                "stevez33|district_admin|Steve|Admin|-|-|csv|true",
            ])
        XCTAssertEqual(try csvAdmins(), admins)
        XCTAssertEqual(try csvAdminVersions(), versions)
    }
}
