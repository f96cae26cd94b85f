import RosterCore
import RosterStore
import XCTest

final class DistrictSettingsTests: StoreTestCase {
    func testAddingADistrictConnectsItWithTheDefaultGuards() throws {
        let settings = try addDistrict(Make.district, DistrictSettingsChange(grades: try GradeSelection.parse("K-2")))
        XCTAssertEqual(settings.status, .connected)
        XCTAssertEqual(settings.grades, ["Kindergarten", "1", "2"])
        XCTAssertNil(settings.schools)
        XCTAssertNil(settings.licenses)
        XCTAssertEqual(settings.guardDeletePct, 10)
        XCTAssertEqual(settings.guardUpdatePct, 75)
        XCTAssertFalse(settings.paused)
        XCTAssertThrowsError(try addDistrict()) { XCTAssertEqual(($0 as? SyncError)?.code, .districtExists) }
    }

    func testSettingsChangeOnlyWhatIsGivenAndBumpTheRosterVersion() throws {
        let added = try addDistrict()
        let changed = try directory.update(
            cleverID: Make.district,
            DistrictSettingsChange(
                schools: .only(["s2", "s1"]), licenses: .some(1100), startDate: .some("2026-08-01"), cleverSSO: true,
                guardDeletePct: 5))
        XCTAssertEqual(changed.schools, ["s1", "s2"])
        XCTAssertEqual(changed.licenses, 1100)
        XCTAssertEqual(changed.startDate, "2026-08-01")
        XCTAssertTrue(changed.cleverSSO)
        XCTAssertEqual(changed.guardDeletePct, 5)
        XCTAssertEqual(changed.guardUpdatePct, 75)
        XCTAssertEqual(changed.rosterVersion, added.rosterVersion + 1)
        let cleared = try directory.update(cleverID: Make.district, DistrictSettingsChange(licenses: .some(nil)))
        XCTAssertNil(cleared.licenses)
    }

    func testUnknownDistrictsAndBadValuesGetClearErrors() throws {
        XCTAssertThrowsError(try directory.settings("nope")) { error in
            XCTAssertEqual((error as? SyncError)?.code, .districtNotFound)
            XCTAssertEqual("\(error)", "district_not_found: no district with Clever id nope is set up")
        }
        try addDistrict()
        for date in ["8/1/26", "2027-02-30", "2026-13-01", "2026-00-10"] {
            XCTAssertThrowsError(
                try directory.update(cleverID: Make.district, DistrictSettingsChange(startDate: .some(date)))
            ) {
                XCTAssertEqual("\($0)", "invalid_setting: --start-date must be YYYY-MM-DD", date)
            }
        }
        try directory.update(cleverID: Make.district, DistrictSettingsChange(startDate: .some("2028-02-29")))
        XCTAssertEqual(try directory.settings(Make.district).startDate, "2028-02-29")
        XCTAssertThrowsError(try directory.update(cleverID: Make.district, DistrictSettingsChange(guardUpdatePct: 120)))
    }

    func testMigratingTwiceAppliesNothingTheSecondTime() throws {
        XCTAssertEqual(try RosterStore.migrate(url: database.url), [])
    }
}
