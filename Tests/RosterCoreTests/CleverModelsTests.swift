import Foundation
import RosterCore
import RosterTestSupport
import XCTest

final class CleverModelsTests: XCTestCase {
    func testTheDemoDistrictDecodesWithEveryRoleCounted() throws {
        let folder = try TestEnvironment.sharedFolder("clever-demo")
        let data = try Data(contentsOf: folder.appendingPathComponent("users.json"))
        let page = try JSONDecoder().decode(CleverPage<CleverUser>.self, from: data)
        XCTAssertEqual(page.records.count, 2098)
        XCTAssertEqual(page.records.filter { $0.roles.student != nil }.count, 1004)
        XCTAssertEqual(page.records.filter { $0.roles.teacher != nil }.count, 89)
        XCTAssertEqual(page.records.filter { $0.roles.districtAdmin != nil }.count, 3)
        XCTAssertEqual(page.records.filter { $0.roles.contact != nil }.count, 1002)
        XCTAssertNil(page.nextURI)

        let sections = try JSONDecoder().decode(
            CleverPage<CleverSection>.self, from: Data(contentsOf: folder.appendingPathComponent("sections.json")))
        XCTAssertEqual(sections.records.count, 378)
        XCTAssertEqual(sections.records.reduce(0) { $0 + $1.students.count }, 8954)
    }

    func testOddValuesAreKeptOrSkippedRatherThanFailingTheRecord() throws {
        let json = """
            {"data": [{"data": {"id": "aaaaaaaaaaaaaaaaaaaaaaaa", "district": 17, "unknown": {"x": [1]},
               "name": {"first": "Zoë 🦉", "last": null},
               "roles": {"student": {"grade": 13, "school": "s1", "schools": ["s1", 5, null],
                                     "credentials": {"district_username": ""}}}}, "uri": "/v3.0/users/a"}],
             "links": [{"rel": "next", "uri": "/v3.0/users?starting_after=a"}]}
            """
        let page = try JSONDecoder().decode(CleverPage<CleverUser>.self, from: Data(json.utf8))
        let user = try XCTUnwrap(page.records.first)
        XCTAssertEqual(user.district, "17")
        XCTAssertEqual(user.name?.first, "Zoë 🦉")
        XCTAssertNil(user.name?.last)
        XCTAssertEqual(user.roles.student?.grade, "13")
        XCTAssertEqual(user.roles.student?.schools, ["s1"])
        XCTAssertEqual(user.roles.student?.districtUsername, "")
        XCTAssertEqual(page.nextURI, "/v3.0/users?starting_after=a")
    }
}
