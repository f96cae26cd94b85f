import Fleet
import Foundation
import RosterCore
import RosterStore
import RosterTestSupport
import XCTest

final class WorkerTests: XCTestCase {
    static let demoDistrict = "5a0c91b95c7cc000010d417c"
    var harness: FleetHarness!

    override func tearDown() {
        harness?.tearDown()
    }

    func testAnEnqueuedJobFlowsThroughAWorkerIntoTheDatabaseAndItsEventReachesAMonitor() throws {
        harness = try FleetHarness()
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        let monitor = try harness.monitor()
        defer { monitor.close() }
        let metrics = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).prom")
        defer { try? FileManager.default.removeItem(at: metrics) }
        try harness.startWorker(name: "w1", extra: ["--metrics-file", metrics.path])
        let job = try harness.enqueue(Self.demoDistrict)

        let events = try harness.events(monitor, count: 1, timeout: 120)
        let event = try XCTUnwrap(events.first, harness.workers[0].log)
        XCTAssertEqual(event.event, .completed)
        XCTAssertEqual(event.jobID, job.jobID)
        XCTAssertEqual(event.district, Self.demoDistrict)
        XCTAssertEqual(event.outcome, "completed")
        XCTAssertEqual(event.worker, "w1")
        XCTAssertEqual(event.attempt, 1)
        XCTAssertEqual(event.counts["students"]?["created"], 1004)
        XCTAssertEqual(event.counts["schools"]?["created"], 3)
        XCTAssertEqual(event.counts["classrooms"]?["created"], 378)
        XCTAssertEqual(Set(event.phases.keys), ["fetch", "stage", "plan", "apply"])
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM users WHERE deleted_at IS NULL"), 1004 + 87 + 3)
        XCTAssertEqual(try harness.jobState(job.jobID), "done")
        let written = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertTrue(written.contains(#"rostersync_jobs_total{worker="w1",outcome="completed"} 1"#), "\(written)")
        XCTAssertTrue(written.contains(#"rostersync_jobs_in_flight{worker="w1"} 0"#), "\(written)")
        XCTAssertTrue(written.contains(#"rostersync_job_duration_seconds_count{worker="w1"} 1"#), "\(written)")
        // 3 schools, 378 classrooms, 1,004 students, 90 staff and 8,900 enrollments, from 12 pages.
        XCTAssertTrue(written.contains(#"rostersync_rows_written_total{worker="w1"} 10375"#), "\(written)")
        XCTAssertTrue(written.contains(#"rostersync_clever_pages_total{worker="w1"} 12"#), "\(written)")
        XCTAssertEqual(harness.workers[0].terminate(), 0, "SIGTERM stops an idle worker with status 0")
    }

    func testAWorkerStoppedWhileFetchingFinishesTheSyncWithinItsGracePeriod() throws {
        harness = try FleetHarness()
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        // Slow pages, so SIGTERM arrives while the worker is still fetching.
        try harness.standin.setFaults(["latency_ms": 400])
        let monitor = try harness.monitor()
        defer { monitor.close() }
        let worker = try harness.startWorker(name: "w1")
        let job = try harness.enqueue(Self.demoDistrict)
        XCTAssertTrue(try waitUntil(timeout: 60) { try self.harness.jobState(job.jobID) == "running" })

        XCTAssertEqual(worker.terminate(timeout: 120), 0, worker.log)
        let event = try XCTUnwrap(try harness.events(monitor, count: 1, timeout: 30).first, worker.log)
        XCTAssertEqual(event.outcome, "completed")
        XCTAssertEqual(event.attempt, 1)
        XCTAssertEqual(event.counts["students"]?["created"], 1004)
        XCTAssertEqual(try harness.jobState(job.jobID), "done")
        XCTAssertFalse(worker.log.contains("handing"), worker.log)
    }

    func testAMonitorFollowsEventsAgainAfterTheBrokerRestarts() throws {
        harness = try FleetHarness()
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        let monitor = try harness.monitor()
        defer { monitor.close() }
        try TestEnvironment.services(["rabbitmqctl", "stop_app"])
        Thread.sleep(forTimeInterval: 2)
        try TestEnvironment.services(["rabbitmqctl", "start_app"])
        XCTAssertNil(try monitor.next(timeout: 1))
        XCTAssertEqual(monitor.reconnects, 1)

        try harness.startWorker(name: "w1")
        let job = try harness.enqueue(Self.demoDistrict)
        let events = try harness.events(monitor, count: 1, timeout: 120)
        XCTAssertEqual(events.map(\.jobID), [job.jobID], harness.workers[0].log)
        XCTAssertEqual(events.map(\.outcome), ["completed"])
        XCTAssertEqual(monitor.reconnects, 1)
    }

    func testStatusShowsTheDistrictsWhenTheBrokerCannotBeReached() throws {
        harness = try FleetHarness()
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        let status = try FleetStatus.read(
            databaseURL: harness.database.url, amqpURL: "amqp://guest:guest@127.0.0.1:1", topology: harness.topology)
        XCTAssertEqual(status.districts.map(\.district), [Self.demoDistrict])
        XCTAssertEqual(status.districts.map(\.status), ["connected"])
        XCTAssertEqual(status.queues.count, 0)
        let error = try XCTUnwrap(status.queuesError)
        XCTAssertTrue(status.table().hasSuffix("queues: unavailable (\(error))"), status.table())
        XCTAssertTrue(error.contains("127.0.0.1:1"), error)
    }

    func testThreeWorkersGivenThirtyDistrictsSyncEachExactlyOnce() throws {
        var datasets: [URL] = []
        for seed in 1...30 {
            datasets.append(try TestEnvironment.generateDistrict(students: 120, seed: 1000 + seed))
        }
        defer { datasets.forEach { try? FileManager.default.removeItem(at: $0) } }
        harness = try FleetHarness(datasets: datasets)
        let districts = try datasets.map(TestEnvironment.districtID(of:))
        for district in districts { try harness.addDistrict(district) }
        let monitor = try harness.monitor()
        defer { monitor.close() }
        for name in ["w1", "w2", "w3"] { try harness.startWorker(name: name) }
        for district in districts { _ = try harness.enqueue(district) }

        let events = try harness.events(monitor, count: 30, timeout: 300)
        XCTAssertEqual(events.count, 30)
        XCTAssertEqual(events.filter { $0.event == .completed }.count, 30)
        XCTAssertEqual(Set(events.map(\.district)), Set(districts))
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM sync_runs"), 30)
        XCTAssertEqual(try harness.scalar("SELECT count(DISTINCT account_id) AS n FROM sync_runs"), 30)
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM sync_jobs WHERE state = 'done'"), 30)
        // No event arrives later: each job ran exactly once.
        XCTAssertNil(try monitor.next(timeout: 2))
    }

    func testAWorkerKilledMidSyncLeavesTheDistrictUntouchedAndAnotherWorkerCompletesTheJob() throws {
        harness = try FleetHarness(standinArguments: ["--latency-ms", "1500"])
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        let monitor = try harness.monitor()
        defer { monitor.close() }
        let doomed = try harness.startWorker(name: "doomed")
        let job = try harness.enqueue(Self.demoDistrict)
        XCTAssertTrue(
            try waitUntil(timeout: 60) {
                try harness.scalar("SELECT count(*) AS n FROM sync_runs WHERE outcome = 'running'") == 1
            }, doomed.log)
        Thread.sleep(forTimeInterval: 0.5)
        doomed.kill()

        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM users"), 0)
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM schools"), 0)
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM enrollments"), 0)

        try harness.standin.setFaults(["latency_ms": 0])
        let rescuer = try harness.startWorker(name: "rescuer")
        let event = try XCTUnwrap(try harness.events(monitor, count: 1, timeout: 120).first, rescuer.log)
        XCTAssertEqual(event.jobID, job.jobID)
        XCTAssertEqual(event.worker, "rescuer")
        XCTAssertEqual(event.event, .completed)
        XCTAssertEqual(event.attempt, 2)
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM users WHERE role = 'student'"), 1004)
        let runs = try harness.database.connect().query(
            "SELECT outcome || '/' || coalesce(error_code, '-') AS run FROM sync_runs ORDER BY id"
        ).map { try $0.string("run") }
        XCTAssertEqual(runs, ["failed/abandoned", "completed/-"], "the killed worker's run is closed by the next one")
    }

    func testAWorkerThatCannotReachTheBrokerSaysSoAndStillStopsOnSIGTERM() throws {
        harness = try FleetHarness()
        var environment = harness.environment
        environment["ROSTERSYNC_AMQP_URL"] = "amqp://guest:guest@127.0.0.1:1"
        let worker = try RosterProcess(["worker", "--name", "lonely"], environment: environment)
        XCTAssertTrue(waitUntil(timeout: 30) { worker.log.contains("cannot reach the broker; trying again") })
        XCTAssertEqual(worker.terminate(timeout: 30), 0, worker.log)
    }

    func testTheBrokerRestartedMidRunLosesNoJob() throws {
        var datasets: [URL] = []
        for seed in 1...4 {
            datasets.append(try TestEnvironment.generateDistrict(students: 150, seed: 2000 + seed))
        }
        defer { datasets.forEach { try? FileManager.default.removeItem(at: $0) } }
        harness = try FleetHarness(datasets: datasets, standinArguments: ["--latency-ms", "400"])
        let districts = try datasets.map(TestEnvironment.districtID(of:))
        for district in districts { try harness.addDistrict(district) }
        try harness.startWorker(name: "w1", concurrency: 1)
        var jobs: [SyncJob] = []
        for district in districts { jobs.append(try harness.enqueue(district)) }
        XCTAssertTrue(
            try waitUntil(timeout: 60) { try harness.scalar("SELECT count(*) AS n FROM sync_runs") >= 1 })

        try TestEnvironment.services(["rabbitmqctl", "stop_app"])
        Thread.sleep(forTimeInterval: 2)
        try TestEnvironment.services(["rabbitmqctl", "start_app"])

        let allDone = try waitUntil(timeout: 240, interval: 0.5) {
            try harness.scalar("SELECT count(*) AS n FROM sync_jobs WHERE state = 'done'") == 4
        }
        XCTAssertTrue(allDone, harness.workers[0].log)
        // A job whose acknowledgement was lost with the broker comes back; the worker sends its event again
        // instead of syncing again, so each district was synced exactly once.
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM sync_runs"), 4, harness.workers[0].log)
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM sync_runs WHERE outcome = 'completed'"), 4)
        for district in districts {
            XCTAssertEqual(
                try harness.scalar(
                    """
                    SELECT count(*) AS n FROM users u JOIN districts d ON d.account_id = u.account_id
                    WHERE d.clever_id = $1 AND u.role = 'student' AND u.deleted_at IS NULL
                    """, [district]),
                150, district)
        }
    }

    func testATransientFailureIsRetriedWithDelayThenDeadLetteredWithAFailedEvent() throws {
        harness = try FleetHarness(standinArguments: ["--fail-rate", "1.0"], retryDelays: [1, 1])
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        let monitor = try harness.monitor()
        defer { monitor.close() }
        try harness.startWorker(name: "w1", extra: ["--clever-retries", "1"])
        let job = try harness.enqueue(Self.demoDistrict)

        let event = try XCTUnwrap(try harness.events(monitor, count: 1, timeout: 120).first, harness.workers[0].log)
        XCTAssertEqual(event.event, .failed)
        XCTAssertEqual(event.jobID, job.jobID)
        XCTAssertEqual(event.attempt, 3, "the first try and two retries")
        XCTAssertEqual(try harness.jobState(job.jobID), "failed")
        let publisher = try harness.publisher()
        defer { publisher.close() }
        XCTAssertTrue(
            try waitUntil(timeout: 10) { try publisher.queueInfo(harness.topology.deadLetterQueue).messageCount == 1 })
        XCTAssertEqual(try harness.scalar("SELECT count(*) AS n FROM users"), 0)
    }

    func testARevokedTokenBlocksTheJobAndDisconnectsTheDistrict() throws {
        harness = try FleetHarness(standinArguments: ["--revoke-after", "1"])
        try harness.addDistrict(Self.demoDistrict, licenses: 1100)
        let monitor = try harness.monitor()
        defer { monitor.close() }
        try harness.startWorker(name: "w1")
        _ = try harness.enqueue(Self.demoDistrict)

        let event = try XCTUnwrap(try harness.events(monitor, count: 1, timeout: 120).first, harness.workers[0].log)
        XCTAssertEqual(event.event, .blocked)
        XCTAssertEqual(event.outcome, "revoked")
        let settings = try DistrictDirectory(databaseURL: harness.database.url).settings(Self.demoDistrict)
        XCTAssertEqual(settings.status, .disconnectedRevoked)
    }

    func testAnOverLicenseDistrictIsReportedBlocked() throws {
        harness = try FleetHarness()
        try harness.addDistrict(Self.demoDistrict, licenses: 900)
        let monitor = try harness.monitor()
        defer { monitor.close() }
        try harness.startWorker(name: "w1")
        _ = try harness.enqueue(Self.demoDistrict)

        let event = try XCTUnwrap(try harness.events(monitor, count: 1, timeout: 120).first, harness.workers[0].log)
        XCTAssertEqual(event.event, .blocked)
        XCTAssertEqual(event.outcome, "over_license")
        XCTAssertEqual(
            event.error,
            "1004 students to roster but 900 licenses: over by 104; nothing applied, the district is disconnected "
                + "until a sync fits its licenses")
    }
}
