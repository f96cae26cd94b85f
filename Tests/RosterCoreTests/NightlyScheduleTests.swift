import Foundation
import RosterCore
import XCTest

final class NightlyScheduleTests: XCTestCase {
    let schedule = NightlySchedule.pacificNine

    private func utc(_ text: String) -> Date {
        FleetJSON.parseISO8601(text)!
    }

    /// Walks a fake clock minute by minute from `start` to `end` and records each firing.
    private func firings(from start: String, to end: String, restartAt restarts: Set<String> = []) -> [String] {
        var fired: [String: Date] = [:]
        var now = utc(start)
        let stop = utc(end)
        while now <= stop {
            if let slot = schedule.slotToFire(at: now, alreadyFired: Set(fired.keys)) {
                fired[slot.localDate] = now
            }
            now.addTimeInterval(60)
        }
        return fired.keys.sorted().map { "\($0)@\(FleetJSON.iso8601(fired[$0]!))" }
    }

    func testSpringForwardDayFiresOnceAtNinePacificDaylightTime() {
        // 2026-03-08: clocks go from 02:00 PST to 03:00 PDT; 21:00 PDT is 04:00 UTC the next day.
        XCTAssertEqual(
            firings(from: "2026-03-07T12:00:00Z", to: "2026-03-10T12:00:00Z"),
            [
                "2026-03-07@2026-03-08T05:00:00.000Z",
                "2026-03-08@2026-03-09T04:00:00.000Z",
                "2026-03-09@2026-03-10T04:00:00.000Z",
            ])
    }

    func testFallBackDayFiresOnceAtNinePacificStandardTime() {
        // 2026-11-01: clocks go from 02:00 PDT back to 01:00 PST; 21:00 PST is 05:00 UTC the next day.
        XCTAssertEqual(
            firings(from: "2026-10-31T12:00:00Z", to: "2026-11-03T12:00:00Z"),
            [
                "2026-10-31@2026-11-01T04:00:00.000Z",
                "2026-11-01@2026-11-02T05:00:00.000Z",
                "2026-11-02@2026-11-03T05:00:00.000Z",
            ])
    }

    func testACoordinatorRestartedInsideTheWindowFiresTheMissedSlotOnce() {
        let due = utc("2026-03-09T04:00:00Z")
        let afterRestart = due.addingTimeInterval(3 * 3600)
        XCTAssertEqual(schedule.slotToFire(at: afterRestart, alreadyFired: [])?.localDate, "2026-03-08")
        XCTAssertNil(schedule.slotToFire(at: afterRestart, alreadyFired: ["2026-03-08"]))
    }

    func testASlotMissedForLongerThanTheCatchUpWindowIsNotFiredLate() {
        let due = utc("2026-03-09T04:00:00Z")
        XCTAssertNil(schedule.slotToFire(at: due.addingTimeInterval(7 * 3600), alreadyFired: []))
    }

    func testNextSlotAcrossTheSpringForwardNight() {
        let slot = schedule.nextSlot(after: utc("2026-03-08T05:30:00Z"))
        XCTAssertEqual(slot.localDate, "2026-03-08")
        XCTAssertEqual(FleetJSON.iso8601(slot.due), "2026-03-09T04:00:00.000Z")
    }
}
