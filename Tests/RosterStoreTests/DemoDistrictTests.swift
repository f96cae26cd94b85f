import CleverClient
import Foundation
import RosterCore
import RosterStore
import RosterTestSupport
import XCTest

/// The acceptance numbers, on Clever's real demo district.
final class DemoDistrictTests: StoreTestCase {
    static let demo = "5a0c91b95c7cc000010d417c"

    /// `../shared/clever-demo` beside the checkout, or beside a parent folder when the checkout is a
    /// worktree nested one level deeper (`/work/wt/NAME` next to `/work/shared`).
    static func demoFolder() throws -> URL {
        if let folder = try? TestEnvironment.sharedFolder("clever-demo") { return folder }
        var parent = TestEnvironment.repositoryRoot.deletingLastPathComponent()
        for _ in 0..<2 {
            parent.deleteLastPathComponent()
            let candidate = parent.appendingPathComponent("shared/clever-demo")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return try TestEnvironment.sharedFolder("clever-demo")
    }

    func demoSource() throws -> CleverDatasetSource {
        CleverDatasetSource(folder: try Self.demoFolder(), batchSize: 500)
    }

    func testTheDemoDistrictSyncsToTheAcceptanceNumbers() throws {
        try addDistrict(Self.demo, DistrictSettingsChange(licenses: .some(1100)))
        let report = try syncer.sync(districtCleverID: Self.demo, source: try demoSource(), options: SyncOptions())
        print("demo first sync: \(report.durationSeconds)s \(report.timings)")
        XCTAssertEqual(report.outcome, .completed)
        XCTAssertEqual(report.counts(.schools), KindCounts(created: 3))
        XCTAssertEqual(report.counts(.classrooms), KindCounts(created: 378))
        XCTAssertEqual(report.counts(.students), KindCounts(created: 1004))
        XCTAssertEqual(report.counts(.staff), KindCounts(created: 90))
        XCTAssertEqual(report.counts(.enrollments), KindCounts(created: 8900))

        let roster = try export(Self.demo)
        XCTAssertEqual(roster.status, "connected")
        XCTAssertEqual(roster.schools.count, 3)
        XCTAssertEqual(roster.classrooms.count, 378)
        let students = roster.users.filter { $0.role == "student" }
        XCTAssertEqual(students.count, 1004)
        XCTAssertEqual(students.filter { $0.schools.count == 1 }.count, 1004)
        XCTAssertEqual(roster.users.filter { $0.role == "teacher" }.count, 87)
        XCTAssertEqual(roster.users.filter { $0.role == "district_admin" }.count, 3)
        XCTAssertEqual(roster.users.filter { $0.role == "district_admin" && $0.schools.isEmpty }.count, 3)
        XCTAssertEqual(roster.enrollments.filter { $0.role == "student" }.count, 8448)
        XCTAssertEqual(roster.enrollments.filter { $0.role == "teacher" }.count, 452)
        XCTAssertEqual(Set(roster.users.map { $0.username.lowercased() }).count, 1094)

        let found = try findings(report)
        let conflicts = found.filter { $0.code == "username.conflict" }
        XCTAssertEqual(conflicts.count, 3)
        XCTAssertEqual(
            Set(conflicts.compactMap(\.objectID)),
            Set(
                conflicts.compactMap(\.objectID).filter { id in
                    students.contains { $0.clever_id == id && $0.username == id }
                }))
        let empty = found.filter { $0.code == "username.empty" }
        XCTAssertEqual(empty.count, 4, "two students and two teachers have an empty district_username")
        XCTAssertEqual(
            found.filter { $0.code == "staff.no_approved_school" }.map(\.objectID),
            ["603ebb2ab452fb006c7639c0", "603ebb2ab452fb006c7639c3"])
        XCTAssertEqual(found.filter { $0.code == "student.cross_school_enrollment_dropped" }.count, 506)
        XCTAssertEqual(report.findingsBySeverity["error"], nil)
    }

    func testSyncingTheDemoAgainWritesNoRow() throws {
        try addDistrict(Self.demo, DistrictSettingsChange(licenses: .some(1100)))
        let first = try syncer.sync(districtCleverID: Self.demo, source: try demoSource(), options: SyncOptions())
        let versions = try rowVersions()
        let writes = try rosterFingerprint()
        let again = try syncer.sync(districtCleverID: Self.demo, source: try demoSource(), options: SyncOptions())
        // A first sync and a resync find the members' problems in two ways; they must find the same ones.
        func memberFindings(_ report: SyncReport) throws -> [String] {
            try findings(report).filter {
                $0.code.hasPrefix("student.cross_school") || $0.code.hasPrefix("enrollment.")
            }
            .map { "\($0.code) \($0.objectID ?? "-") \($0.message)" }
        }
        XCTAssertEqual(try memberFindings(first).count, 506)
        XCTAssertEqual(try memberFindings(again), try memberFindings(first))
        print("demo unchanged sync: \(again.durationSeconds)s \(again.timings)")
        XCTAssertEqual(again.outcome, .completed)
        XCTAssertEqual(again.counts(.students), KindCounts(unchanged: 1004))
        XCTAssertEqual(again.counts(.staff), KindCounts(unchanged: 90))
        XCTAssertEqual(again.counts(.enrollments), KindCounts(unchanged: 8900))
        XCTAssertEqual(try rosterFingerprint(), writes)
        XCTAssertEqual(try rowVersions(), versions)
    }

    func testTheDemoOverItsLicensesDisconnectsAndReconnectsWhenItFits() throws {
        try addDistrict(Self.demo, DistrictSettingsChange(licenses: .some(1100)))
        _ = try syncer.sync(districtCleverID: Self.demo, source: try demoSource(), options: SyncOptions())
        let before = try export(Self.demo)
        try directory.update(cleverID: Self.demo, DistrictSettingsChange(licenses: .some(900)))

        let over = try syncer.sync(districtCleverID: Self.demo, source: try demoSource(), options: SyncOptions())
        XCTAssertEqual(over.outcome, .overLicense)
        XCTAssertEqual(over.licenseOverage, 104)
        var after = try export(Self.demo)
        XCTAssertEqual(after.status, "disconnected_over_license")
        after.status = before.status
        XCTAssertEqual(after, before)

        try directory.update(cleverID: Self.demo, DistrictSettingsChange(licenses: .some(1100)))
        let fits = try syncer.sync(districtCleverID: Self.demo, source: try demoSource(), options: SyncOptions())
        XCTAssertEqual(fits.outcome, .completed)
        XCTAssertEqual(try export(Self.demo).status, "connected")
    }
}
