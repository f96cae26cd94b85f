import Foundation
import RosterTestSupport
import XCTest

/// Runs the main job, `scripts/demo`, as a person would, and checks its report against the database.
final class DemoPipelineTests: XCTestCase {
    private func runDemo(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/demo")
        process.arguments = arguments
        // The release build that scripts/test makes before the tests run.
        let release = TestEnvironment.repositoryRoot.appendingPathComponent(".build/release/rostersync")
        guard FileManager.default.isExecutableFile(atPath: release.path) else {
            throw TestEnvironment.Missing(
                description: "this test runs the release build; make it first with swift build -c release")
        }
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["ROSTERSYNC_DEMO_BINARY": release.path]) { _, new in new }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        return text
    }

    /// The report's value for a label such as `students`.
    private func reported(_ label: String, in report: String) -> String? {
        for line in report.split(separator: "\n") where line.hasPrefix(label + " ") {
            return line.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// The demo's database, exported the way an operator would.
    private func export(_ district: String) throws -> [String: Any] {
        let base = try TestEnvironment.databaseURL()
        var components = URLComponents(string: base)!
        components.path = "/rostersync_demo"
        let result = try RosterProcess.run(
            ["export", "--district", district], environment: ["ROSTERSYNC_DATABASE_URL": components.string!])
        XCTAssertEqual(result.status, 0, result.output)
        let data = Data(result.output.utf8)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func activeCount(_ rows: Any?, where predicate: ([String: Any]) -> Bool = { _ in true }) -> Int {
        ((rows as? [[String: Any]]) ?? []).filter { ($0["active"] as? Bool) == true && predicate($0) }.count
    }

    func testTheDemoOnCleversOwnDemoDistrictRosters1004StudentsInThreeSchools() throws {
        let demo = try TestEnvironment.sharedFolder("clever-demo")
        let report = try runDemo(["--dataset", demo.path])
        XCTAssertEqual(reported("outcome", in: report), "completed / completed", report)
        XCTAssertEqual(reported("schools", in: report), "3")
        XCTAssertEqual(reported("classrooms", in: report), "378")
        XCTAssertEqual(reported("students", in: report), "1004")
        XCTAssertEqual(reported("staff", in: report), "87 teachers, 0 school admins, 3 district admins")
        XCTAssertEqual(reported("enrollments", in: report), "8448 student, 452 teacher")

        let roster = try export("5a0c91b95c7cc000010d417c")
        XCTAssertEqual(activeCount(roster["schools"]), 3)
        XCTAssertEqual(activeCount(roster["users"]) { $0["role"] as? String == "student" }, 1004)
    }

    func testTheDemoOnTheBundledSampleDistrictReportsWhatTheExportHolds() throws {
        let report = try runDemo([])
        XCTAssertEqual(reported("outcome", in: report), "completed / completed", report)
        let district = try XCTUnwrap(reported("district", in: report)?.split(separator: " ").first.map(String.init))
        let roster = try export(district)
        let users = roster["users"]
        XCTAssertEqual(reported("schools", in: report), String(activeCount(roster["schools"])))
        XCTAssertEqual(reported("classrooms", in: report), String(activeCount(roster["classrooms"])))
        XCTAssertEqual(
            reported("students", in: report), String(activeCount(users) { $0["role"] as? String == "student" }))
        let staff = ["teacher", "school_admin", "district_admin"].map { role in
            activeCount(users) { $0["role"] as? String == role }
        }
        XCTAssertEqual(
            reported("staff", in: report),
            "\(staff[0]) teachers, \(staff[1]) school admins, \(staff[2]) district admins")
        let enrollments = ["student", "teacher"].map { role in
            activeCount(roster["enrollments"]) { $0["role"] as? String == role }
        }
        XCTAssertEqual(reported("enrollments", in: report), "\(enrollments[0]) student, \(enrollments[1]) teacher")
        // The bundled district is generated from a fixed seed, so its numbers are known.
        XCTAssertEqual(reported("students", in: report), "800")
        XCTAssertEqual(reported("schools", in: report), "4")
    }
}
