import Foundation
import RosterStore
import RosterTestSupport
import XCTest

/// The onboarding steps as an operator runs them: the built `rostersync` against the real database and
/// the Clever stand-in.
final class OnboardingCommandTests: StoreTestCase {
    static let demo = DemoDistrictTests.demo

    func rostersync(_ arguments: [String], standin: CleverStandin? = nil) throws -> (status: Int32, output: String) {
        var environment = ["ROSTERSYNC_DATABASE_URL": database.url, "ROSTERSYNC_LOG_LEVEL": "warning"]
        if let standin {
            environment["ROSTERSYNC_CLEVER_URL"] = standin.url
            environment["ROSTERSYNC_CLEVER_OAUTH_URL"] = standin.url
            environment["ROSTERSYNC_CLEVER_CLIENT_ID"] = CleverStandin.clientID
            environment["ROSTERSYNC_CLEVER_CLIENT_SECRET"] = CleverStandin.clientSecret
        }
        return try RosterProcess.run(arguments, environment: environment)
    }

    func testADistrictIsConnectedCheckedActivatedAndSignedInThroughTheCommands() throws {
        let standin = try CleverStandin()
        let connect = try rostersync([
            "district", "connect", "--name", "Demo District", "--domain", "demo.example.org", "--clever-id",
            Self.demo, "--schools", "Demo High School;demo elementary school;Demo Middle School", "--grades", "all",
            "--licenses", "1100", "--start-date", "2026-09-01",
        ])
        XCTAssertEqual(connect.status, 0, connect.output)

        let preflight = try rostersync(["district", "preflight", "--district", Self.demo, "--json"], standin: standin)
        XCTAssertEqual(preflight.status, 0, preflight.output)
        let report = try JSONDecoder().decode(PreflightReport.self, from: Data(preflight.output.utf8))
        XCTAssertEqual(report.licenses, .init(licenses: 1100, studentsToRoster: 1004, enough: true))
        XCTAssertEqual(report.outcome.created, 1094)

        let activate = try rostersync(["district", "activate", "--district", Self.demo], standin: standin)
        XCTAssertEqual(activate.status, 0, activate.output)
        XCTAssertEqual(try directory.settings(Self.demo).status, .connected)
        let sync = try rostersync(["sync", "--district", Self.demo], standin: standin)
        XCTAssertEqual(sync.status, 0, sync.output)
        XCTAssertEqual(try rostersync(["district", "set", "--clever-id", Self.demo, "--clever-sso", "on"]).status, 0)

        try standin.addLoginCode("code-1", userID: "5a25ffb0c1bc2a00360003ed")
        let login = try rostersync(
            [
                "login", "resolve", "--district", Self.demo, "--clever-code", "code-1", "--redirect-uri",
                "https://app.example/cb",
            ], standin: standin)
        XCTAssertEqual(login.status, 0, login.output)
        XCTAssertEqual(
            try JSONDecoder().decode(SignInAccount.self, from: Data(login.output.utf8)),
            SignInAccount(username: "stevez33", role: "student", cleverID: "5a25ffb0c1bc2a00360003ed"))

        let refused = try rostersync([
            "login", "resolve", "--district", Self.demo, "--provider", "google", "--username", "stevez33",
        ])
        XCTAssertEqual(refused.status, 4)
        XCTAssertEqual(
            refused.output,
            "rostersync: no account signs in: provider_not_allowed: district \(Self.demo) does not allow sign-in "
                + "with google\n")
        XCTAssertEqual(
            try rostersync(["district", "providers", "--district", Self.demo, "--allow", "google,password"]).output,
            "google,password\n")
        XCTAssertEqual(
            try rostersync([
                "login", "resolve", "--district", Self.demo, "--provider", "google", "--username", "STEVEZ33",
            ]).status, 0)
    }

    func testARejectedAdminFileIsPrintedLineByLine() throws {
        try addDistrict(Self.demo)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("admins-\(UUID()).csv")
        try Data("username,first_name,last_name,email,role\na,A,B,,boss\na,A,B,,district_admin\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let rejected = try rostersync(["admins", "import", file.path, "--district", Self.demo])

        XCTAssertEqual(rejected.status, 1)
        XCTAssertEqual(
            rejected.output,
            """
            rostersync: the file was not imported: 2 problem(s)
            line 2, column role: unknown role 'boss' (use district_admin or school_admin)
            line 3, column username: duplicate username, first on line 2

            """)
    }
}
