import Foundation
import RosterTestSupport
import XCTest

/// Runs the built `rostersync` executable (`swift build` puts it in `.build/debug`).
final class CleverCommandTests: XCTestCase {
    private var standin: CleverStandin!

    override func setUpWithError() throws {
        standin = try CleverStandin()
    }

    override func tearDown() {
        standin.stop()
        standin = nil
    }

    func testSummaryPrintsTheDemoDistrictsExactCounts() throws {
        let (status, output, _) = try rostersync(
            ["clever", "summary", "--clever-url", standin.url],
            environment: ["ROSTERSYNC_CLEVER_TOKEN": CleverStandin.demoToken])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(
            output.trimmingCharacters(in: .whitespacesAndNewlines),
            """
            {"district":"5a0c91b95c7cc000010d417c","schools":3,"sections":378,"student_enrollments":8954,\
            "teacher_enrollments":452,"terms":5,"users":{"contact":1002,"district_admin":3,"staff":0,\
            "student":1004,"teacher":89},"users_total":2098}
            """)
    }

    func testSummaryWithARevokedTokenFailsWithoutShowingIt() throws {
        let (status, output, errors) = try rostersync([
            "clever", "summary", "--clever-url", standin.url, "--token", "not-a-token",
        ])
        XCTAssertEqual(status, 1)
        XCTAssertEqual(output, "")
        XCTAssertTrue(errors.contains("authorizationRevoked"), errors)
        XCTAssertFalse(errors.contains("not-a-token"))
    }

    func testDistrictsListsIdsOnly() throws {
        let (status, output, _) = try rostersync(
            ["clever", "districts", "--clever-oauth-url", standin.url],
            environment: [
                "ROSTERSYNC_CLEVER_CLIENT_ID": CleverStandin.clientID,
                "ROSTERSYNC_CLEVER_CLIENT_SECRET": CleverStandin.clientSecret,
            ])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(output, "5a0c91b95c7cc000010d417c\n")
    }

    private func rostersync(_ arguments: [String], environment: [String: String] = [:]) throws -> (
        Int32, String, String
    ) {
        let executable = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/rostersync")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw XCTSkip("build rostersync first: swift build")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ROSTERSYNC_CLEVER") }
        variables.merge(environment) { _, new in new }
        process.environment = variables
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outputData, as: UTF8.self),
            String(decoding: errorData, as: UTF8.self)
        )
    }
}
