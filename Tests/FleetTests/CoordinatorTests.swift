import Fleet
import Foundation
import RosterCore
import RosterStore
import RosterSupport
import RosterTestSupport
import XCTest

final class CoordinatorTests: XCTestCase {
    var harness: FleetHarness!
    let connected = "aaaaaaaaaaaaaaaaaaaaaaa1"
    let paused = "aaaaaaaaaaaaaaaaaaaaaaa2"
    let notYetStarted = "aaaaaaaaaaaaaaaaaaaaaaa3"
    let unauthorized = "aaaaaaaaaaaaaaaaaaaaaaa4"
    let overLicense = "aaaaaaaaaaaaaaaaaaaaaaa5"
    let addedLate = "aaaaaaaaaaaaaaaaaaaaaaa6"

    override func setUpWithError() throws {
        harness = try FleetHarness()
        try harness.addDistrict(connected)
        try harness.addDistrict(paused, extra: DistrictSettingsChange(paused: true))
        try harness.addDistrict(notYetStarted, extra: DistrictSettingsChange(startDate: .some("2026-11-02")))
        try harness.addDistrict(unauthorized)
        try harness.addDistrict(overLicense)
        try DistrictDirectory(databaseURL: harness.database.url).setStatus(
            cleverID: overLicense, .disconnectedOverLicense)
        // The fake clocks below run in 2026; these districts were added before all of their slots.
        try harness.database.connect().execute("UPDATE districts SET created_at = '2026-01-01T00:00:00Z'")
    }

    override func tearDown() {
        harness?.tearDown()
    }

    private func utc(_ text: String) -> Date { FleetJSON.parseISO8601(text)! }

    private func coordinator(_ clock: @escaping () -> Date, name: String = "c1") -> Coordinator {
        let authorized: Set<String> = [connected, paused, notYetStarted, overLicense, addedLate]
        return Coordinator(
            configuration: .init(
                databaseURL: harness.database.url, amqpURL: harness.amqpURL, topology: harness.topology, name: name),
            authorizedDistricts: { authorized }, clock: clock, logger: harness.logger)
    }

    private func queuedJobs() throws -> [SyncJob] {
        let publisher = try harness.publisher()
        defer { publisher.close() }
        let connection = try AMQPConnectionForCleanup(url: harness.amqpURL).connection
        defer { connection.close() }
        var jobs: [SyncJob] = []
        while let delivery = try connection.get(queue: harness.topology.jobsQueue, autoAck: true) {
            jobs.append(try FleetJSON.decode(SyncJob.self, from: delivery.data))
        }
        return jobs
    }

    func testAFakeClockAcrossBothDaylightSavingChangesFiresEachNightOnceWithEligibleDistrictsOnly() throws {
        var now = utc("2026-03-08T12:00:00Z")
        let subject = coordinator({ now })
        var fired: [String: String] = [:]
        var jobsPerSlot: [String: Int] = [:]
        // Sunday 8 March (spring forward) to Tuesday 10 March, then Sunday 1 November (fall back) to Tuesday 3
        // November, in 30-minute steps; between the two, the fleet finishes every job it was given.
        for (start, end) in [
            ("2026-03-08T12:00:00Z", "2026-03-10T12:00:00Z"), ("2026-11-01T12:00:00Z", "2026-11-03T12:00:00Z"),
        ] {
            now = utc(start)
            while now <= utc(end) {
                if let result = try subject.tick() {
                    fired[result.slot] = FleetJSON.iso8601(now)
                    jobsPerSlot[result.slot] = result.jobs
                    try harness.database.connect().execute("UPDATE sync_jobs SET state = 'done'")
                }
                now.addTimeInterval(1800)
            }
        }
        XCTAssertEqual(
            fired,
            [
                "2026-03-08": "2026-03-09T04:00:00.000Z", "2026-03-09": "2026-03-10T04:00:00.000Z",
                "2026-11-01": "2026-11-02T05:00:00.000Z", "2026-11-02": "2026-11-03T05:00:00.000Z",
            ])
        // The connected and the over-license district (to check again whether it fits) each night; the
        // district whose start date is 2 November joins them from that night on.
        XCTAssertEqual(jobsPerSlot, ["2026-03-08": 2, "2026-03-09": 2, "2026-11-01": 2, "2026-11-02": 3])
        let jobs = try queuedJobs()
        XCTAssertEqual(jobs.count, 9)
        XCTAssertEqual(
            Set(jobs.filter { $0.slot == "2026-11-02" }.map(\.district)), [connected, notYetStarted, overLicense])
        XCTAssertTrue(jobs.allSatisfy { $0.trigger == .schedule })
    }

    func testACoordinatorRestartedInsideTheWindowDoesNotFireTwiceAndASecondOneWaitsForTheLock() throws {
        let due = utc("2026-12-04T05:00:00Z")
        let first = coordinator({ due.addingTimeInterval(60) })
        XCTAssertEqual(try first.tick()?.jobs, 3)
        let standby = coordinator({ due.addingTimeInterval(120) }, name: "c2")
        XCTAssertFalse(try standby.isLeader())
        XCTAssertNil(try standby.tick())

        // The first coordinator goes away; a restarted one takes the lock and finds the slot fired.
        let restarted = coordinator({ due.addingTimeInterval(1800) }, name: "c3")
        withExtendedLifetime(first) {}
        XCTAssertNil(try restarted.tick())
        XCTAssertEqual(try queuedJobs().count, 3)
    }

    func testASlotInterruptedPartWayIsResumedWithoutQueueingADistrictTwice() throws {
        let due = utc("2026-12-04T05:00:00Z")
        let store = try FleetStore(databaseURL: harness.database.url)
        // A coordinator claimed the slot and queued one district before it died.
        XCTAssertTrue(try store.beginSlot("2026-12-03", coordinator: "dead"))
        let publisher = try harness.publisher()
        defer { publisher.close() }
        let queue = JobQueue(store: store, publisher: publisher)
        XCTAssertEqual(
            try queue.enqueue(SyncJob(district: connected, trigger: .schedule, slot: "2026-12-03")), .reserved)
        try harness.database.connect().execute("UPDATE sync_jobs SET state = 'done'")

        let result = try coordinator({ due.addingTimeInterval(600) }).tick()
        XCTAssertEqual(result?.slot, "2026-12-03")
        XCTAssertEqual(result?.jobs, 2, "the connected district was queued before the interruption")
        XCTAssertEqual(Set(try queuedJobs().map(\.district)), [connected, notYetStarted, overLicense])
        XCTAssertEqual(try queuedJobs().count, 0)
    }

    func testASlotFiredLateLeavesOutADistrictAddedAfterItWasDueAndTheNextNightQueuesIt() throws {
        let due = utc("2026-12-04T05:00:00Z")
        try harness.addDistrict(addedLate)
        try harness.database.connect().execute(
            "UPDATE districts SET created_at = $1::timestamptz WHERE clever_id = $2",
            [FleetJSON.iso8601(due.addingTimeInterval(3600)), addedLate])

        // The coordinator was down at 21:00 and starts at 00:30: the slot queues the night's districts only,
        // so an operator's sync of the new district is not taken by a job it never had.
        var now = due.addingTimeInterval(5400)
        let subject = coordinator({ now })
        let result = try subject.tick()
        XCTAssertEqual(result?.slot, "2026-12-03")
        XCTAssertEqual(result?.jobs, 3)
        XCTAssertEqual(Set(try queuedJobs().map(\.district)), [connected, notYetStarted, overLicense])
        try harness.database.connect().execute("UPDATE sync_jobs SET state = 'done'")

        now = due.addingTimeInterval(86_400 + 60)
        let next = try subject.tick()
        XCTAssertEqual(next?.slot, "2026-12-04")
        XCTAssertEqual(next?.jobs, 4)
        XCTAssertEqual(Set(try queuedJobs().map(\.district)), [connected, notYetStarted, overLicense, addedLate])
    }

    func testADistrictWithAJobWaitingIsNotQueuedAgain() throws {
        let first = try harness.enqueue(connected)
        let publisher = try harness.publisher()
        defer { publisher.close() }
        let queue = JobQueue(store: try FleetStore(databaseURL: harness.database.url), publisher: publisher)
        XCTAssertEqual(
            try queue.enqueue(SyncJob(district: connected, trigger: .operator_)), .alreadyOpen(jobID: first.jobID))
        XCTAssertEqual(try queuedJobs().map(\.jobID), [first.jobID])
    }

    func testAJobWhoseMessageNeverReachedTheBrokerDoesNotBlockItsDistrict() throws {
        let store = try FleetStore(databaseURL: harness.database.url)
        struct BrokerAway: Error {}
        XCTAssertThrowsError(
            try store.reserve(SyncJob(district: connected, trigger: .operator_)) { throw BrokerAway() })
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM sync_jobs"), 0)
        let job = try harness.enqueue(connected)
        XCTAssertEqual(try queuedJobs().map(\.jobID), [job.jobID])
    }

    func testTheEnqueueCommandRefusesUnknownAndPausedDistrictsWithAClearError() throws {
        let unknown = try RosterProcess.run(
            ["enqueue", "--district", "bbbbbbbbbbbbbbbbbbbbbbbb"], environment: harness.environment)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(
            unknown.output.contains(
                "no district account is connected to Clever district bbbbbbbbbbbbbbbbbbbbbbbb; only district accounts "
                    + "sync from Clever"), unknown.output)
        let pausedRun = try RosterProcess.run(["enqueue", "--district", paused], environment: harness.environment)
        XCTAssertEqual(pausedRun.status, 2)
        XCTAssertTrue(
            pausedRun.output.contains("district \(paused) is paused; resume it with district set --paused off"),
            pausedRun.output)
        let accepted = try RosterProcess.run(
            ["enqueue", "--district", connected, "--priority", "high"], environment: harness.environment)
        XCTAssertEqual(accepted.status, 0, accepted.output)
        let jobID = accepted.output.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try harness.jobState(jobID), "queued")
    }
}
