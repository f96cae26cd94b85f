import Foundation
import PostgresClient
import RosterCore
import RosterStore
import XCTest

/// Later syncs, guards, held runs, failures, locking and district isolation (rules 8, 9, 12, 13, 14).
final class SyncLifecycleTests: StoreTestCase {
    /// Two schools, four students, one teacher in both.
    func dayOne() -> MemorySource {
        MemorySource(
            schools: [Make.school("s1"), Make.school("s2")],
            sections: [
                Make.section("c1", school: "s1", students: ["st1", "st2"], teachers: ["t1"]),
                Make.section("c2", school: "s2", students: ["st3", "st4"], teachers: ["t1"]),
            ],
            users: [
                Make.student("st1", school: "s1"), Make.student("st2", school: "s1"), Make.student("st3", school: "s2"),
                Make.student("st4", school: "s2"), Make.teacher("t1", schools: ["s1", "s2"]),
            ])
    }

    func testASecondDayWhereStudentsLeaveMoveChangeUsernameAndComeBack() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 100, guardUpdatePct: 100))
        _ = try sync(dayOne())
        let returning = try userID("st2")

        var dayTwo = dayOne()
        dayTwo.users = [
            Make.student("st1", school: "s1"), Make.student("st3", school: "s1"),
            Make.student("st4", school: "s2", username: "NewName"), Make.teacher("t1", schools: ["s1", "s2"]),
        ]
        dayTwo.sections = [
            Make.section("c1", school: "s1", students: ["st1", "st3"], teachers: ["t1"]),
            Make.section("c2", school: "s2", students: ["st4"], teachers: ["t1"]),
        ]
        let second = try sync(dayTwo)
        XCTAssertEqual(second.counts(.students), KindCounts(updated: 2, unchanged: 1, softDeleted: 1))
        XCTAssertEqual(second.counts(.staff), KindCounts(unchanged: 1))
        XCTAssertEqual(second.counts(.enrollments), KindCounts(created: 1, unchanged: 4, softDeleted: 2))
        let roster = try export()
        XCTAssertEqual(
            allUsers(roster),
            [
                "st4|NewName|student|s2|clever|true", "t1|t.t1|teacher|s1,s2|clever|true",
                "st1|user.st1|student|s1|clever|true", "st2|user.st2|student|s1|clever|false",
                "st3|user.st3|student|s1|clever|true",
            ])
        XCTAssertEqual(
            allEnrollments(roster),
            [
                "c1 st1 student true", "c1 st2 student false", "c1 st3 student true", "c1 t1 teacher true",
                "c2 st3 student false", "c2 st4 student true", "c2 t1 teacher true",
            ])

        var dayThree = dayTwo
        dayThree.users.append(Make.student("st2", school: "s1"))
        dayThree.sections[0].students.append("st2")
        let third = try sync(dayThree)
        XCTAssertEqual(third.counts(.students), KindCounts(unchanged: 3, restored: 1))
        XCTAssertEqual(third.counts(.enrollments), KindCounts(unchanged: 5, restored: 1))
        XCTAssertEqual(try userID("st2"), returning)
        XCTAssertEqual(
            allUsers(try export()).filter { $0.hasPrefix("st2") }, ["st2|user.st2|student|s1|clever|true"])

        let connection = try database.connect()
        let journal = try connection.query(
            "SELECT clever_id || ' ' || action || ' ' || coalesce(array_to_string(fields, ','), '') AS line "
                + "FROM roster_changes WHERE run_id = $1 ORDER BY clever_id", [Int(second.runID)!]
        ).map { try $0.string("line") }
        XCTAssertEqual(journal, ["st2 delete ", "st3 update schools", "st4 update username"])
    }

    func testAMemberWhoseRoleChangesKeepsTheEnrollmentWithTheNewRole() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 100, guardUpdatePct: 100))
        _ = try sync(dayOne())

        // t1 is listed in c2 as a student now and is one; c1 no longer lists t1. Both classrooms keep their
        // number of members, so only what is in them tells the change.
        var dayTwo = dayOne()
        dayTwo.users[4] = Make.student("t1", school: "s2")
        dayTwo.sections = [
            Make.section("c1", school: "s1", students: ["st1", "st2"], teachers: ["st1"]),
            Make.section("c2", school: "s2", students: ["st3", "st4", "t1"]),
        ]
        let second = try sync(dayTwo)
        XCTAssertEqual(second.counts(.enrollments), KindCounts(updated: 1, unchanged: 4, softDeleted: 1))
        XCTAssertEqual(
            allEnrollments(try export()),
            [
                "c1 st1 student true", "c1 st2 student true", "c1 t1 teacher false", "c2 st3 student true",
                "c2 st4 student true", "c2 t1 student true",
            ])
        XCTAssertEqual(try sync(dayTwo).counts(.enrollments), KindCounts(unchanged: 5))
    }

    func testARunThatWouldSoftDeleteTooManyIsHeldAndApprovingAppliesExactlyItsPlan() throws {
        try addDistrict()
        _ = try sync(dayOne())
        let before = try export()
        var smaller = dayOne()
        smaller.users.removeAll { $0.id == "st4" }
        smaller.sections[1].students = ["st3"]
        let held = try sync(smaller)
        XCTAssertEqual(held.outcome, .held)
        XCTAssertEqual(
            held.reason,
            "run would soft delete 1 of 4 active students (25.0%), more than the guard of 10%; held for review "
                + "(runs approve or runs discard); run would soft delete 1 of 6 active enrollments (16.7%), more "
                + "than the guard of 10%; held for review (runs approve or runs discard)")
        XCTAssertEqual(try codes(held), ["guard.delete_pct -", "guard.delete_pct -"])
        XCTAssertEqual(try export(), before)

        let approved = try syncer.approve(runID: held.runID)
        XCTAssertEqual(approved.outcome, .completed)
        XCTAssertEqual(approved.counts(.students), KindCounts(unchanged: 3, softDeleted: 1))
        XCTAssertEqual(
            activeUsers(try export()),
            ["t.t1 teacher s1,s2", "user.st1 student s1", "user.st2 student s1", "user.st3 student s2"])
        XCTAssertThrowsError(try syncer.approve(runID: held.runID)) {
            XCTAssertEqual(($0 as? SyncError)?.code, .runNotHeld)
        }
        // The plan is applied; the same data again changes nothing.
        XCTAssertEqual(try sync(smaller).counts(.students), KindCounts(unchanged: 3))
    }

    func testADiscardedHeldRunLeavesTheDistrictAsItWas() throws {
        try addDistrict()
        _ = try sync(dayOne())
        let before = try export()
        var renamed = dayOne()
        renamed.users = renamed.users.map { user in
            var user = user
            user.name = CleverName(first: "New", last: "Name")
            return user
        }
        let held = try sync(renamed)
        XCTAssertEqual(held.outcome, .held)
        XCTAssertEqual(try codes(held), ["guard.update_pct -", "guard.update_pct -"])
        try syncer.discard(runID: held.runID)
        XCTAssertEqual(try export(), before)
        XCTAssertEqual(try SyncRunStore(databaseURL: database.url).show(runID: held.runID).outcome, .discarded)
        let rows = try database.connect().query("SELECT count(*) AS n FROM sync_plan_rows").first!
        XCTAssertEqual(try rows.int("n"), 0)
    }

    func testAHeldPlanIsNotAppliedOnceTheDistrictChanged() throws {
        try addDistrict()
        _ = try sync(dayOne())
        var smaller = dayOne()
        smaller.users.removeAll { $0.id == "st4" }
        smaller.sections[1].students = ["st3"]
        let held = try sync(smaller)
        try insertUser("newcomer", role: "teacher", source: "native")
        XCTAssertThrowsError(try syncer.approve(runID: held.runID)) {
            XCTAssertEqual(($0 as? SyncError)?.code, .planStale)
        }
        XCTAssertEqual(activeUsers(try export()).count, 6)
    }

    func testCleverAnsweringWithNoUsersIsHeldRatherThanDeletingEveryone() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 100))
        _ = try sync(dayOne())
        var empty = dayOne()
        empty.users = []
        let held = try sync(empty)
        XCTAssertEqual(held.outcome, .held)
        // The sections still list everyone, so each of those enrollments is reported too.
        XCTAssertEqual(
            try codes(held),
            [
                "enrollment.unknown_user st1", "enrollment.unknown_user st2", "enrollment.unknown_user st3",
                "enrollment.unknown_user st4", "enrollment.unknown_user t1", "enrollment.unknown_user t1",
                "guard.empty_source -",
            ])
        XCTAssertEqual(
            try findings(held).first { $0.code == "guard.empty_source" }?.message,
            "Clever answered with no users while the district has 5 active; held for review")
        XCTAssertEqual(activeUsers(try export()).count, 5)
    }

    func testAFailureBetweenStagingAndApplyOrInsideTheApplyLeavesNoTrace() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 100, guardUpdatePct: 100))
        _ = try sync(dayOne())
        let before = try export()
        let versions = try rowVersions()
        var changed = dayOne()
        changed.schools.append(Make.school("s3"))
        changed.users.removeAll { $0.id == "st1" }
        for checkpoint in [SyncCheckpoint.staged, .planned, .applying] {
            let options = SyncOptions(minimumStudentsPerSchool: 0) { reached in
                if reached == checkpoint { throw SyncError(.injectedFault, "fault at \(reached.rawValue)") }
            }
            XCTAssertThrowsError(try sync(changed, options: options)) {
                XCTAssertEqual(($0 as? SyncError)?.code, .injectedFault)
            }
            XCTAssertEqual(try export(), before)
            XCTAssertEqual(try rowVersions(), versions)
        }
        let runs = try SyncRunStore(databaseURL: database.url).list(districtCleverID: Make.district)
        XCTAssertEqual(runs.map(\.outcome), [.failed, .failed, .failed, .completed])
        XCTAssertEqual(runs.map(\.errorCode), ["injected_fault", "injected_fault", "injected_fault", nil])
        let journal = try database.connect().query("SELECT count(*) AS n FROM roster_changes WHERE run_id > 1").first!
        XCTAssertEqual(try journal.int("n"), 0)
    }

    /// The run's staging and plan tables live in a schema of its own, which is dropped when the run ends, also
    /// when it fails; one left by a connection that died is dropped by the next run, one of a live connection
    /// is not.
    func testARunsWorkSchemaIsDroppedAfterItAndOnesOfDeadConnectionsByTheNextRun() throws {
        try addDistrict()
        let connection = try database.connect()
        func workSchemas() throws -> [String] {
            try connection.query(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rostersync\\_run\\_%' ORDER BY 1"
            ).map { try $0.string("nspname") }
        }
        XCTAssertEqual(try sync(dayOne()).counts(.students), KindCounts(created: 4))
        XCTAssertEqual(try workSchemas(), [])

        let failing = SyncOptions(minimumStudentsPerSchool: 0) { reached in
            if reached == .planned { throw SyncError(.injectedFault, "fault at \(reached.rawValue)") }
        }
        XCTAssertThrowsError(try sync(dayOne(), options: failing))
        XCTAssertEqual(try workSchemas(), [])

        // 99999999 is above Linux's largest process id, so no backend can have it.
        let live = try database.connect()
        let liveSchema = "rostersync_run_\(live.backendPID)"
        try connection.execute("CREATE SCHEMA rostersync_run_99999999")
        try connection.execute("CREATE UNLOGGED TABLE rostersync_run_99999999.stg_users (clever_id text)")
        try connection.execute("CREATE SCHEMA \(liveSchema)")
        XCTAssertEqual(try workSchemas(), ["rostersync_run_99999999", liveSchema].sorted())
        XCTAssertEqual(try sync(dayOne()).counts(.students), KindCounts(unchanged: 4))
        XCTAssertEqual(try workSchemas(), [liveSchema])
        try connection.execute("DROP SCHEMA \(liveSchema)")
    }

    func testAFailedFetchIsRecordedAsFailedAndNeverLooksLikeAnEmptyDistrict() throws {
        try addDistrict()
        _ = try sync(dayOne())
        let before = try export()
        var broken = dayOne()
        broken.failure = SourceDown()
        XCTAssertThrowsError(try sync(broken)) { error in
            XCTAssertEqual((error as? SyncError)?.code, .sourceFailed)
            XCTAssertEqual((error as? SyncError)?.isTransient, false)
            XCTAssertEqual("\(error)", "source_failed: fetching from Clever failed: HTTP 503 from Clever")
        }
        XCTAssertEqual(try export(), before)
        let run = try SyncRunStore(databaseURL: database.url).list(districtCleverID: Make.district)[0]
        XCTAssertEqual(run.outcome, .failed)
        XCTAssertEqual(run.errorCode, "source_failed")
    }

    func testTwoSyncsOfOneDistrictNeverRunAtOnce() throws {
        try addDistrict()
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        var slow = dayOne()
        slow.onStart = {
            entered.signal()
            release.wait()
        }
        let outcome = Box()
        let done = DispatchSemaphore(value: 0)
        let url = database.url
        let first = slow
        DispatchQueue.global().async {
            let syncer = DistrictSyncer(databaseURL: url, logger: .init(label: "test", level: .critical))
            outcome.set(try? syncer.sync(districtCleverID: Make.district, source: first).outcome)
            done.signal()
        }
        entered.wait()
        XCTAssertThrowsError(try sync(dayOne())) { error in
            XCTAssertEqual((error as? SyncError)?.code, .districtBusy)
            XCTAssertEqual((error as? SyncError)?.isTransient, true)
        }
        release.signal()
        done.wait()
        XCTAssertEqual(outcome.get(), .completed)
        XCTAssertEqual(try sync(dayOne()).counts(.students), KindCounts(unchanged: 4))
    }

    func testAnotherDistrictsRecordsAreLeftOutAndItsRowsAreNeverTouched() throws {
        try addDistrict()
        try addDistrict("d2")
        let other = MemorySource(
            schools: [Make.school("x1", district: "d2")],
            sections: [Make.section("y1", school: "x1", students: ["z1"], district: "d2")],
            users: [Make.student("z1", school: "x1", district: "d2")])
        _ = try sync(other, district: "d2")
        let otherBefore = try export("d2")
        let otherVersions = try rowVersions()

        var mixed = dayOne()
        mixed.schools.append(Make.school("x1", district: "d2"))
        mixed.users.append(Make.student("z1", school: "x1", district: "d2"))
        mixed.sections += [
            Make.section("y1", school: "x1", students: ["z1"], district: "d2"),
            Make.section("c9", school: "s404", students: ["st1"]),
            Make.section("c5", school: "s1", students: ["ghost", "st1"]),
        ]
        let report = try sync(mixed)
        XCTAssertEqual(
            try codes(report),
            [
                "enrollment.unknown_user ghost", "record.other_district x1", "record.other_district y1",
                "record.other_district z1", "section.unknown_school c9",
            ])
        XCTAssertEqual(report.findingsBySeverity, ["error": 5])
        XCTAssertEqual(try export("d2"), otherBefore)
        XCTAssertEqual(try rowVersions().filter { otherVersions.contains($0) }.count, otherVersions.count)
        let roster = try export()
        XCTAssertEqual(roster.schools.map(\.clever_id), ["s1", "s2"])
        XCTAssertEqual(roster.classrooms.map(\.clever_id), ["c1", "c2", "c5"])
        XCTAssertEqual(activeUsers(roster).count, 5)
    }

    func testADryRunComputesThePlanAndFindingsAndWritesNoRosterRow() throws {
        try addDistrict()
        var source = dayOne()
        source.users.append(Make.student("st9", school: "s1", username: ""))
        let writes = try rosterFingerprint()
        let report = try sync(source, options: SyncOptions(dryRun: true, minimumStudentsPerSchool: 0))
        XCTAssertEqual(report.outcome, .dryRun)
        XCTAssertEqual(report.counts(.students), KindCounts(created: 5))
        XCTAssertEqual(report.counts(.enrollments), KindCounts(created: 6))
        XCTAssertEqual(try codes(report), ["username.empty st9"])
        XCTAssertEqual(try rosterFingerprint(), writes)
        XCTAssertEqual(try export().users, [])
        XCTAssertEqual(try sync(source).counts(.students), KindCounts(created: 5))
    }

    func testAPausedOrRevokedDistrictDoesNotSync() throws {
        try addDistrict(Make.district, DistrictSettingsChange(paused: true))
        XCTAssertThrowsError(try sync(dayOne())) { XCTAssertEqual(($0 as? SyncError)?.code, .districtPaused) }
        try directory.update(cleverID: Make.district, DistrictSettingsChange(paused: false))
        try directory.setStatus(cleverID: Make.district, .disconnectedRevoked)
        XCTAssertThrowsError(try sync(dayOne())) { XCTAssertEqual(($0 as? SyncError)?.code, .districtNotConnected) }
        XCTAssertThrowsError(try sync(dayOne(), district: "nope")) {
            XCTAssertEqual(($0 as? SyncError)?.code, .districtNotFound)
        }
    }
}

/// A value handed from a worker thread back to the test.
final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var value: SyncOutcome?

    func set(_ value: SyncOutcome?) {
        lock.lock()
        self.value = value
        lock.unlock()
    }

    func get() -> SyncOutcome? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
