import CleverClient
import Foundation
import RosterCore
import RosterTestSupport
import XCTest

final class CleverDatasetSourceTests: XCTestCase {
    func testAFolderWithoutUsersIsAnErrorNotADistrictWithNoUsers() throws {
        let demo = try TestEnvironment.sharedFolder("clever-demo")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("no-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["districts", "schools", "terms", "sections"] {
            try FileManager.default.copyItem(
                at: demo.appendingPathComponent("\(name).json"), to: folder.appendingPathComponent("\(name).json"))
        }
        var users = 0
        XCTAssertThrowsError(
            try CleverDatasetSource(folder: folder).fetchAll { batch in
                if case .users(let records) = batch { users += records.count }
            }
        ) { error in
            XCTAssertEqual("\(error)", "the dataset folder \(folder.lastPathComponent) has no users.json")
        }
        XCTAssertEqual(users, 0)
    }

    func testTheDemoFolderArrivesInBatchesOfTheGivenSize() throws {
        let demo = try TestEnvironment.sharedFolder("clever-demo")
        var userBatches: [Int] = []
        let stats = try CleverDatasetSource(folder: demo, batchSize: 1000).fetchAll { batch in
            if case .users(let records) = batch { userBatches.append(records.count) }
        }
        XCTAssertEqual(userBatches, [1000, 1000, 98])
        XCTAssertEqual(stats.records, 1 + 3 + 5 + 378 + 2098)
    }
}
