import Foundation
import RosterCore
import XCTest

final class FleetMessagesTests: XCTestCase {
    func testAJobEncodesToTheDocumentedVersionOneShape() throws {
        let job = SyncJob(
            jobID: "7b0e3c1a-0000-4000-8000-000000000001", district: "5a0c91b95c7cc000010d417c",
            trigger: .operator_, requestedAt: FleetJSON.parseISO8601("2026-12-03T21:00:00Z")!)
        let text = String(decoding: try FleetJSON.encode(job), as: UTF8.self)
        XCTAssertEqual(
            text,
            #"{"district":"5a0c91b95c7cc000010d417c","dry_run":false,"job_id":"7b0e3c1a-0000-4000-8000-000000000001","#
                + #""priority":"normal","requested_at":"2026-12-03T21:00:00.000Z","trigger":"operator","version":1}"#)
        XCTAssertEqual(try FleetJSON.decode(SyncJob.self, from: Data(text.utf8)), job)
    }

    func testAnEventRoundTripsAndNamesItsRoutingKey() throws {
        let event = SyncEvent(
            event: .held, jobID: "j", runID: "42", district: "d", outcome: "held",
            counts: ["students": ["created": 0, "soft_deleted": 120]], phases: ["fetch": 1.5],
            findings: ["warning": 1], durationSeconds: 2.25, attempt: 1, worker: "w1",
            finishedAt: FleetJSON.parseISO8601("2026-12-03T21:05:00Z")!)
        XCTAssertEqual(event.event.routingKey, "sync.held")
        XCTAssertEqual(try FleetJSON.decode(SyncEvent.self, from: FleetJSON.encode(event)), event)
    }

    func testEachOutcomeIsReportedByItsEvent() {
        let outcomes = ["completed", "dry_run", "held", "failed", "over_license", "revoked", "paused", "not_connected"]
        XCTAssertEqual(
            outcomes.map { SyncEvent.Kind(outcome: $0).routingKey },
            [
                "sync.completed", "sync.completed", "sync.held", "sync.failed", "sync.blocked", "sync.blocked",
                "sync.blocked", "sync.blocked",
            ])
    }
}
