import Foundation
import PostgresClient
import RosterCore
import RosterStore
import XCTest

/// Inputs that the per-classroom enrollment digest and the member arrays must not get wrong.
final class EnrollmentDigestAdversarialTests: StoreTestCase {
    /// `hashint8extended` folds a bigint into 32 bits (low half XOR high half) before hashing, whatever the
    /// seed, so both "independent" hashes of the digest collide for any two values with the same fold. With
    /// ids past 2^31 (bigserial ids, or sequences advanced by the gaps that dry runs and held plans leave),
    /// a classroom whose one member is replaced by such a user keeps its digest and the change is missed.
    func testReplacingAMemberByAUserWhoseIdFoldsToTheSameHashIsNotMissed() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 100, guardUpdatePct: 100))
        let school = [Make.school("s1")]
        _ = try sync(
            MemorySource(
                schools: school, sections: [Make.section("c1", school: "s1", students: ["a"])],
                users: [Make.student("a", school: "s1")]))
        let a = try userID("a")
        // The digest hashes user_id * 2 + (role = 'student'); choose b so that its value folds to a's.
        let valueA = Int64(a) * 2 + 1
        let valueB = (Int64(2) << 32) + (valueA ^ 2)
        let b = (valueB - 1) / 2
        try database.connect().execute("SELECT setval('users_id_seq', \(b - 1))")
        _ = try sync(
            MemorySource(
                schools: school, sections: [Make.section("c1", school: "s1", students: ["a"])],
                users: [Make.student("a", school: "s1"), Make.student("b", school: "s1")]))
        XCTAssertEqual(Int64(try userID("b")), b)

        // c1 now lists b instead of a: same count, and (because of the fold) the same two hashes.
        let swapped = try sync(
            MemorySource(
                schools: school, sections: [Make.section("c1", school: "s1", students: ["b"])],
                users: [Make.student("a", school: "s1"), Make.student("b", school: "s1")]))
        XCTAssertEqual(allEnrollments(try export()), ["c1 a student false", "c1 b student true"])
        XCTAssertEqual(swapped.counts(.enrollments), KindCounts(created: 1, softDeleted: 1))
    }

    /// Members are deduplicated in Swift while staged, where two different strings that are canonically
    /// equivalent (precomposed "é" and "e" + combining acute) are equal; PostgreSQL compares ids byte by
    /// byte and rosters two users. The second student of the section is silently not enrolled.
    func testMembersWhoseIdsAreCanonicallyEquivalentButDifferentAreBothEnrolled() throws {
        try addDistrict()
        let composed = "st\u{E9}"
        let decomposed = "ste\u{301}"
        let source = MemorySource(
            schools: [Make.school("s1")],
            sections: [Make.section("c1", school: "s1", students: [composed, decomposed])],
            users: [
                Make.student(composed, school: "s1", username: "composed"),
                Make.student(decomposed, school: "s1", username: "decomposed"),
            ])
        let report = try sync(source)
        XCTAssertEqual(report.counts(.students), KindCounts(created: 2))
        let rows = try database.connect().query(
            "SELECT count(*)::int AS n FROM enrollments WHERE deleted_at IS NULL")
        XCTAssertEqual(try rows.first!.int("n"), 2)
        XCTAssertEqual(report.counts(.enrollments), KindCounts(created: 2))
    }

    /// A held plan keeps only its changed rows. Approving it inserts a new classroom by joining `p_classrooms`
    /// with `p_schools` for the school's id, so a new classroom in a school that did not change (no row in the
    /// kept plan) is never created, while its enrollments are inserted with the classroom id the plan gave
    /// it: rows that point at no classroom (enrollments have no foreign keys).
    func testApprovingAHeldRunCreatesANewClassroomOfAnUnchangedSchool() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 1, guardUpdatePct: 100))
        let users = [
            Make.student("st1", school: "s1"), Make.student("st2", school: "s1"), Make.teacher("t1", schools: ["s1"]),
        ]
        _ = try sync(
            MemorySource(
                schools: [Make.school("s1")],
                sections: [
                    Make.section("c1", school: "s1", students: ["st1", "st2"], teachers: ["t1"]),
                    Make.section("c2", school: "s1", students: ["st2"], teachers: ["t1"]),
                ],
                users: users))
        // c2 goes away (held by the 1 % delete guard) and c3 is new, in the unchanged school s1.
        let dayTwo = MemorySource(
            schools: [Make.school("s1")],
            sections: [
                Make.section("c1", school: "s1", students: ["st1", "st2"], teachers: ["t1"]),
                Make.section("c3", school: "s1", students: ["st1"], teachers: ["t1"]),
            ],
            users: users)
        let held = try sync(dayTwo)
        XCTAssertEqual(held.outcome, .held)
        // The kept plan names every enrollment by Clever ids, the new ones too.
        let kept = try database.connect().query(
            "SELECT payload->>'action' || ' ' || (payload->>'section') || ' ' || (payload->>'user_clever') AS row "
                + "FROM sync_plan_rows WHERE kind = 'p_enrollments' ORDER BY 1"
        ).map { try $0.string("row") }
        XCTAssertEqual(kept, ["create c3 st1", "create c3 t1", "delete c2 st2", "delete c2 t1"])
        _ = try syncer.approve(runID: held.runID)

        XCTAssertEqual(
            allEnrollments(try export()),
            [
                "c1 st1 student true", "c1 st2 student true", "c1 t1 teacher true", "c2 st2 student false",
                "c2 t1 teacher false", "c3 st1 student true", "c3 t1 teacher true",
            ])
        let orphans = try database.connect().query(
            "SELECT count(*)::int AS n FROM enrollments e "
                + "WHERE NOT EXISTS (SELECT 1 FROM classrooms c WHERE c.id = e.classroom_id)")
        XCTAssertEqual(try orphans.first!.int("n"), 0)
        // Approving applied the plan, so the same data changes nothing any more.
        try directory.update(cleverID: Make.district, DistrictSettingsChange(guardDeletePct: 100))
        XCTAssertEqual(try sync(dayTwo).counts(.classrooms), KindCounts(unchanged: 2))
    }

    /// The previous version kept a held plan's new rows without ids (`db_id`, `classroom_id` and `user_db`
    /// NULL); they got theirs from the table defaults. After the upgrade `runs approve` of such a run fails
    /// with a raw not-null violation instead of applying it or telling the operator to discard and resync.
    func testApprovingAHeldRunKeptByThePreviousVersionAppliesItOrSaysItIsStale() throws {
        try addDistrict(Make.district, DistrictSettingsChange(guardDeletePct: 1, guardUpdatePct: 100))
        _ = try sync(
            MemorySource(
                schools: [Make.school("s1")], sections: [Make.section("c1", school: "s1", students: ["st1", "st2"])],
                users: [Make.student("st1", school: "s1"), Make.student("st2", school: "s1")]))
        let held = try sync(
            MemorySource(
                schools: [Make.school("s1")], sections: [Make.section("c1", school: "s1", students: ["st1", "st3"])],
                users: [Make.student("st1", school: "s1"), Make.student("st3", school: "s1")]))
        XCTAssertEqual(held.outcome, .held)
        // What 0c1fc6d stored for the same plan: no ids for the rows it would create.
        try database.connect().execute(
            """
            UPDATE sync_plan_rows SET payload = payload || '{"db_id": null}'::jsonb
            WHERE kind = 'p_users' AND payload->>'action' = 'create'
            """)
        try database.connect().execute(
            """
            UPDATE sync_plan_rows SET payload = payload || '{"user_db": null}'::jsonb
            WHERE kind IN ('p_memberships', 'p_enrollments') AND payload->>'action' = 'create'
            """)
        do {
            _ = try syncer.approve(runID: held.runID)
            XCTAssertEqual(activeEnrollments(try export()), ["c1 st1 student", "c1 st3 student"])
        } catch let error as SyncError {
            XCTAssertEqual(error.code, .planStale, "\(error)")
        }
    }
}
