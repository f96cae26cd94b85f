import Foundation
import RosterCore
import RosterStore
import XCTest

/// Rules 1–7, 10 and 11 of a sync, each on a small hand-made district with its exact roster.
final class RosterRulesTests: StoreTestCase {
    func testOnlyApprovedSchoolsAreRosteredAndTheOthersAreReported() throws {
        try addDistrict(Make.district, DistrictSettingsChange(schools: .only(["s1", "s2", "s9"])))
        let source = MemorySource(
            schools: [Make.school("s1"), Make.school("s2"), Make.school("s3")],
            sections: [
                Make.section("c1", school: "s1", students: ["st1"], teachers: ["t1"]),
                Make.section("c3", school: "s3", students: ["st3"], teachers: ["t1", "t3"]),
            ],
            users: [
                Make.student("st1", school: "s1"), Make.student("st3", school: "s3"),
                Make.teacher("t1", schools: ["s1", "s3"]), Make.teacher("t3", schools: ["s3"]),
            ])
        let report = try sync(source)

        let roster = try export()
        XCTAssertEqual(roster.schools.map(\.clever_id), ["s1", "s2"])
        XCTAssertEqual(roster.classrooms.map(\.clever_id), ["c1"])
        XCTAssertEqual(activeUsers(roster), ["t.t1 teacher s1", "user.st1 student s1"])
        XCTAssertEqual(activeEnrollments(roster), ["c1 st1 student", "c1 t1 teacher"])
        XCTAssertEqual(
            try codes(report),
            [
                "school.not_approved s3", "school.not_shared s9", "staff.no_approved_school t3",
                "student.school_not_approved st3",
            ])
    }

    func testAStudentStaysAStudentOtherwiseTheHighestRoleWinsAndContactsAreNotRostered() throws {
        try addDistrict()
        let both = CleverUser(
            id: "u1", district: Make.district,
            roles: CleverRoles(
                student: CleverRole(school: "s1", grade: "3", districtUsername: "kid"),
                teacher: CleverRole(school: "s1", districtUsername: "teach")))
        let admin = CleverUser(
            id: "u2", district: Make.district,
            roles: CleverRoles(
                teacher: CleverRole(school: "s1", districtUsername: "x"), staff: CleverRole(school: "s1"),
                districtAdmin: CleverRole()))
        let teacher = Make.teacher("u5", schools: ["s1"])
        let source = MemorySource(
            schools: [Make.school("s1"), Make.school("s2")],
            sections: [Make.section("c1", school: "s1", students: ["u1"], teachers: ["u2", "u3", "u5"])],
            // u5 comes twice, as a user with several roles comes once per role list.
            users: [both, admin, Make.schoolAdmin("u3", schools: ["s2", "s1"]), Make.contact("u4"), teacher, teacher])
        let report = try sync(source)

        let roster = try export()
        XCTAssertEqual(
            activeUsers(roster),
            ["kid student s1", "t.u5 teacher s1", "u2 district_admin ", "u3 school_admin s1,s2"])
        XCTAssertEqual(activeEnrollments(roster), ["c1 u1 student", "c1 u2 teacher", "c1 u3 teacher", "c1 u5 teacher"])
        XCTAssertEqual(report.counts(.students), KindCounts(created: 1))
        XCTAssertEqual(report.counts(.staff), KindCounts(created: 3))
        XCTAssertEqual(try codes(report), [])
    }

    func testAStudentBelongsToItsPrimarySchoolAndOtherSchoolsEnrollmentsAreDropped() throws {
        try addDistrict(Make.district, DistrictSettingsChange(grades: try GradeSelection.parse("3-5")))
        let source = MemorySource(
            schools: [Make.school("s1"), Make.school("s2")],
            sections: [
                Make.section("c1", school: "s1", students: ["st1", "st2", "st3"]),
                Make.section("c2", school: "s2", students: ["st1", "st2"]),
            ],
            users: [
                Make.student("st1", school: nil, schools: ["s2", "s1"], grade: "3"),
                Make.student("st2", school: "s1", schools: ["s1", "s2"], grade: "04"),
                Make.student("st3", school: "s1", grade: "K"),
                Make.student("st4", school: nil, schools: []),
            ])
        let report = try sync(source)

        let roster = try export()
        XCTAssertEqual(activeUsers(roster), ["user.st1 student s2", "user.st2 student s1"])
        XCTAssertEqual(activeEnrollments(roster), ["c1 st2 student", "c2 st1 student"])
        XCTAssertEqual(
            try codes(report),
            [
                "student.cross_school_enrollment_dropped st1", "student.cross_school_enrollment_dropped st2",
                "student.grade_not_allowed st3", "student.no_school st4",
            ])
    }

    func testStaffBelongToEveryApprovedSchoolOfTheirRolesAndAdminsWhoTeachAreEnrolled() throws {
        try addDistrict(Make.district, DistrictSettingsChange(schools: .only(["s1", "s2"])))
        let source = MemorySource(
            schools: [Make.school("s1"), Make.school("s2"), Make.school("s3")],
            sections: [
                Make.section("c1", school: "s1", students: ["st1"], teachers: ["t1", "d1", "a2"]),
                Make.section("c2", school: "s2", teachers: ["a2", "t1"]),
            ],
            users: [
                Make.teacher("t1", schools: ["s1", "s3"]), Make.schoolAdmin("a1", schools: ["s2", "s1"]),
                Make.teacher("a2", schools: ["s2"], staffSchools: ["s3"]), Make.districtAdmin("d1"),
                Make.student("st1", school: "s1"),
            ])
        _ = try sync(source)

        let roster = try export()
        XCTAssertEqual(
            activeUsers(roster),
            [
                "a1 school_admin s1,s2", "a2 school_admin s2", "d1 district_admin ", "t.t1 teacher s1",
                "user.st1 student s1",
            ])
        XCTAssertEqual(
            activeEnrollments(roster),
            ["c1 a2 teacher", "c1 d1 teacher", "c1 st1 student", "c1 t1 teacher", "c2 a2 teacher", "c2 t1 teacher"])
    }

    func testASectionThatComesTwiceOrNamesAMemberTwiceEnrollsEachMemberOnce() throws {
        try addDistrict()
        var primary = Make.section("c2", school: "s1", students: ["st1"], teachers: ["t1"])
        primary.teacher = "t2"
        let source = MemorySource(
            schools: [Make.school("s1")],
            sections: [
                Make.section("c1", school: "s1", students: ["st1", "st2", "st1"], teachers: ["t1", "t1"]),
                primary,
                // c1 again on a later page, with one more student: members of both copies count.
                Make.section("c1", school: "s1", students: ["st2", "st3"], teachers: ["t1"]),
            ],
            users: [
                Make.student("st1", school: "s1"), Make.student("st2", school: "s1"),
                Make.student("st3", school: "s1"), Make.teacher("t1", schools: ["s1"]),
                Make.teacher("t2", schools: ["s1"]),
            ])
        let report = try sync(source)

        XCTAssertEqual(
            activeEnrollments(try export()),
            [
                "c1 st1 student", "c1 st2 student", "c1 st3 student", "c1 t1 teacher", "c2 st1 student",
                "c2 t1 teacher", "c2 t2 teacher",
            ])
        XCTAssertEqual(report.counts(.enrollments), KindCounts(created: 7))
        XCTAssertEqual(report.counts(.classrooms), KindCounts(created: 2))
        XCTAssertEqual(try sync(source).counts(.enrollments), KindCounts(unchanged: 7))
    }

    func testUsernamesAreTheTrimmedDistrictUsernameOrElseTheCleverID() throws {
        try addDistrict()
        let noCredentials = CleverUser(
            id: "st3", district: Make.district, roles: CleverRoles(student: CleverRole(school: "s1", grade: "3")))
        let source = MemorySource(
            schools: [Make.school("s1")],
            users: [
                Make.student("st1", school: "s1", username: "  Alice.B\t"),
                Make.student("st2", school: "s1", username: ""),
                noCredentials, Make.teacher("t1", schools: ["s1"], username: "   "),
                Make.schoolAdmin("a1", schools: ["s1"]),
            ])
        let report = try sync(source)

        XCTAssertEqual(
            activeUsers(try export()),
            ["a1 school_admin s1", "Alice.B student s1", "st2 student s1", "st3 student s1", "t1 teacher s1"])
        XCTAssertEqual(try codes(report), ["username.empty st2", "username.empty st3", "username.empty t1"])
        XCTAssertEqual(report.findingsBySeverity, ["warning": 3])
    }

    func testUsernameConflictsLeaveTheNameWithItsHolderAndOtherwiseTheSmallestCleverID() throws {
        try addDistrict()
        try insertUser("Boss", role: "school_admin", source: "csv")
        try insertUser("gone", role: "teacher", source: "native", deleted: true)
        var source = MemorySource(
            schools: [Make.school("s1")],
            users: [
                Make.student("st1", school: "s1", username: "BOSS"),
                Make.student("st2", school: "s1", username: "Gone"),
                Make.student("st4", school: "s1", username: "PAT"), Make.student("st3", school: "s1", username: "pat"),
                Make.student("st5", school: "s1", username: "sam"),
            ])
        let first = try sync(source)
        XCTAssertEqual(
            try findings(first).filter { $0.code == "username.conflict" }.map { "\($0.objectID!): \($0.message)" },
            [
                "st1: district_username is already held by an account added by CSV; this user gets its Clever id as username",
                "st2: district_username is already held by a soft-deleted account; this user gets its Clever id as username",
                "st4: district_username is also wanted by user st3, which keeps it (smallest Clever id); this user gets its Clever id as username",
            ])

        source.users.append(Make.student("st0", school: "s1", username: "SAM"))
        try directory.update(cleverID: Make.district, DistrictSettingsChange(guardUpdatePct: 100))
        let second = try sync(source)
        XCTAssertEqual(
            allUsers(try export()),
            [
                "-|Boss|school_admin||csv|true", "-|gone|teacher||native|false", "st3|pat|student|s1|clever|true",
                "st5|sam|student|s1|clever|true", "st0|st0|student|s1|clever|true", "st1|st1|student|s1|clever|true",
                "st2|st2|student|s1|clever|true", "st4|st4|student|s1|clever|true",
            ])
        XCTAssertEqual(
            try findings(second).filter { $0.code == "username.conflict" }.map { "\($0.objectID!): \($0.message)" }[0],
            "st0: district_username is also wanted by user st5, which keeps it (it already holds it); this user gets its Clever id as username"
        )
        XCTAssertEqual(try codes(second).filter { $0.hasPrefix("username") }.count, 4)
    }

    func testTheFirstSyncSoftDeletesTheDistrictsRowsButLinksUsersOfTheSameKindByUsername() throws {
        try addDistrict()
        let connection = try database.connect()
        try connection.execute(
            """
            INSERT INTO schools (account_id, source, name) SELECT account_id, 'native', 'Old School' FROM districts;
            """)
        try connection.execute(
            """
            INSERT INTO classrooms (account_id, school_id, source, name)
            SELECT account_id, (SELECT id FROM schools), 'native', 'Old class' FROM districts
            """)
        let kid = try insertUser("kid1", role: "student", source: "native")
        try insertUser("kid2", role: "student", source: "native")
        try insertUser("MsT", role: "teacher", source: "native")
        try insertUser("sameName", role: "teacher", source: "native")
        try insertUser("csvadmin", role: "district_admin", source: "csv")
        try connection.execute(
            "INSERT INTO enrollments (classroom_id, user_id, account_id, role, source) "
                + "SELECT (SELECT id FROM classrooms), $1, account_id, 'student', 'native' FROM districts", [kid])
        let source = MemorySource(
            schools: [Make.school("s1")],
            sections: [Make.section("c1", school: "s1", students: ["st1"], teachers: ["t1"])],
            users: [
                Make.student("st1", school: "s1", username: "KID1"),
                Make.teacher("t1", schools: ["s1"], username: "mst"),
                Make.student("st2", school: "s1", username: "samename"),
            ])
        let report = try sync(source)

        let roster = try export()
        XCTAssertEqual(
            allUsers(roster),
            [
                "-|csvadmin|district_admin||csv|true", "st1|kid1|student|s1|clever|true",
                "-|kid2|student||native|false", "t1|MsT|teacher|s1|clever|true", "-|sameName|teacher||native|false",
                "st2|st2|student|s1|clever|true",
            ])
        XCTAssertEqual(try userID("st1"), kid)
        XCTAssertEqual(roster.schools.map { "\($0.clever_id ?? "-") \($0.active)" }, ["s1 true", "- false"])
        XCTAssertEqual(roster.classrooms.map { "\($0.clever_id ?? "-") \($0.active)" }, ["c1 true", "- false"])
        XCTAssertEqual(allEnrollments(roster), ["c1 st1 student true", "c1 t1 teacher true", "- st1 student false"])
        XCTAssertEqual(report.counts(.students), KindCounts(created: 1, updated: 1, softDeleted: 1))
        XCTAssertEqual(report.counts(.staff), KindCounts(updated: 1, softDeleted: 1))
        XCTAssertEqual(try codes(report), ["username.conflict st2"])

        // Rule 11: the CSV admin is not touched by this or any later sync.
        let csvVersion = try connection.query("SELECT xmin::text AS v FROM users WHERE username = 'csvadmin'")
            .first!.string("v")
        _ = try sync(
            MemorySource(schools: [Make.school("s1")], users: [Make.student("st1", school: "s1", username: "kid1")]))
        XCTAssertEqual(
            try connection.query(
                "SELECT xmin::text AS v, deleted_at IS NULL AS active FROM users WHERE username = 'csvadmin'"
            )
            .first!.string("v"), csvVersion)
    }

    func testASchoolWithFewerActiveStudentsThanTheMinimumIsWarnedAbout() throws {
        try addDistrict()
        let source = MemorySource(
            schools: [Make.school("s1"), Make.school("s2")],
            users: [Make.student("a", school: "s1"), Make.student("b", school: "s2"), Make.student("c", school: "s2")])
        let report = try sync(source, options: SyncOptions(minimumStudentsPerSchool: 2))
        let found = try findings(report)
        XCTAssertEqual(found.map(\.code), ["school.under_minimum"])
        XCTAssertEqual(found[0].objectID, "s1")
        XCTAssertEqual(found[0].message, "school has 1 active students, fewer than 2")
    }

    func testFindingsBeyondTheCapPerCodeAreSummarizedWithTheFullCount() throws {
        try addDistrict()
        let users = (1...5).map { Make.student("st\($0)", school: "s1", username: "") }
        let report = try sync(
            MemorySource(schools: [Make.school("s1")], users: users),
            options: SyncOptions(findingsCapPerCode: 2, minimumStudentsPerSchool: 0))
        let found = try findings(report)
        XCTAssertEqual(
            found.map { "\($0.code) \($0.objectID ?? "-") \($0.count)" },
            ["username.empty st1 1", "username.empty st2 1", "username.empty - 5"])
        XCTAssertEqual(found[2].message, "5 findings of this code in all; only the first 2 are stored")
        XCTAssertEqual(report.findingsBySeverity, ["warning": 5])
    }
}
