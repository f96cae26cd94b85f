import RosterCore
import XCTest

final class RosterRulesCoreTests: XCTestCase {
    func testGradeNamesAndShortFormsNormalizeToClever() {
        XCTAssertEqual(CleverGrade.normalize(" K "), "Kindergarten")
        XCTAssertEqual(CleverGrade.normalize("PK"), "PreKindergarten")
        XCTAssertEqual(CleverGrade.normalize("Pre-K"), "PreKindergarten")
        XCTAssertEqual(CleverGrade.normalize("tk"), "TransitionalKindergarten")
        XCTAssertEqual(CleverGrade.normalize("07"), "7")
        XCTAssertEqual(CleverGrade.normalize("13"), "13")
        XCTAssertEqual(CleverGrade.normalize("PostGraduate"), "PostGraduate")
        XCTAssertEqual(CleverGrade.normalize("Infant"), "Infant")
        XCTAssertNil(CleverGrade.normalize("  "))
        XCTAssertNil(CleverGrade.normalize(nil))
    }

    func testGradeSelectionsReadRangesListsAndAll() throws {
        XCTAssertEqual(try GradeSelection.parse("all"), .all)
        XCTAssertEqual(
            try GradeSelection.parse("K-5").sortedGrades, ["Kindergarten", "1", "2", "3", "4", "5"])
        XCTAssertEqual(try GradeSelection.parse("3,4, 5").sortedGrades, ["3", "4", "5"])
        XCTAssertEqual(
            try GradeSelection.parse("PK-K,12-PostGraduate,Ungraded").sortedGrades,
            ["PreKindergarten", "TransitionalKindergarten", "Kindergarten", "12", "13", "PostGraduate", "Ungraded"])
        XCTAssertThrowsError(try GradeSelection.parse("5-K"))
        XCTAssertThrowsError(try GradeSelection.parse("K-Other"))
        XCTAssertThrowsError(try GradeSelection.parse("fourth"))
        XCTAssertTrue(try GradeSelection.parse("K-2").allows("Kindergarten"))
        XCTAssertFalse(try GradeSelection.parse("K-2").allows(nil))
        XCTAssertTrue(GradeSelection.all.allows(nil))
    }

    func testSchoolSelectionsAreSortedWithoutRepeats() throws {
        XCTAssertEqual(try SchoolSelection.parse("all"), .all)
        let a = "aaaaaaaaaaaaaaaaaaaaaaa1"
        let b = "bbbbbbbbbbbbbbbbbbbbbbb2"
        XCTAssertEqual(try SchoolSelection.parse("\(b), \(a),\(b)").ids, [a, b])
        for typo in ["nonsense", "all,\(a)", "\(a),zzz", String(a.dropLast()), a.uppercased()] {
            XCTAssertThrowsError(try SchoolSelection.parse(typo), typo) { error in
                XCTAssertTrue("\(error)".hasPrefix("--schools takes all or Clever school ids"), "\(error)")
            }
        }
        XCTAssertThrowsError(try SchoolSelection.parse(" , "))
    }

    func testAStudentIsAStudentAndOtherwiseTheHighestRoleWins() {
        XCTAssertEqual(RosterRules.role(of: CleverRoles(student: CleverRole(), teacher: CleverRole())), .student)
        XCTAssertEqual(
            RosterRules.role(of: CleverRoles(teacher: CleverRole(), staff: CleverRole(), districtAdmin: CleverRole())),
            .districtAdmin)
        XCTAssertEqual(RosterRules.role(of: CleverRoles(teacher: CleverRole(), staff: CleverRole())), .schoolAdmin)
        XCTAssertEqual(RosterRules.role(of: CleverRoles(teacher: CleverRole())), .teacher)
        XCTAssertNil(RosterRules.role(of: CleverRoles(contact: CleverRole())))
    }

    func testAStudentsPrimarySchoolFallsBackToTheFirstOfItsSchools() {
        XCTAssertEqual(RosterRules.primarySchool(of: CleverRole(school: "a", schools: ["b", "a"])), "a")
        XCTAssertEqual(RosterRules.primarySchool(of: CleverRole(school: nil, schools: ["b", "a"])), "b")
        XCTAssertNil(RosterRules.primarySchool(of: CleverRole()))
    }

    func testStaffSchoolsAreTheUnionOfTeacherAndStaffRolesInFirstSeenOrder() {
        let roles = CleverRoles(
            teacher: CleverRole(school: "b", schools: ["a", "b"]), staff: CleverRole(school: "c", schools: ["a"]))
        XCTAssertEqual(RosterRules.staffSchools(of: roles), ["b", "a", "c"])
    }

    func testSchoolIdsThatDifferInTheirBytesAreDifferentSchools() {
        // A precomposed "é" and "e" with a combining accent: equal as Swift strings, different ids.
        let roles = CleverRoles(teacher: CleverRole(school: "s\u{E9}", schools: ["se\u{301}", "s\u{E9}"]))
        let bytes = RosterRules.staffSchools(of: roles).map { Array($0.utf8) }
        XCTAssertEqual(bytes, [[115, 195, 169], [115, 101, 204, 129]])
    }

    func testUsernamesAreTrimmedAndAdminsAndBlanksUseTheCleverID() {
        let student = CleverUser(
            id: "s1", district: "d",
            roles: CleverRoles(student: CleverRole(school: "x", grade: "k", districtUsername: "  ann \n")))
        XCTAssertEqual(
            RosterRules.candidate(for: student),
            RosterCandidate(
                cleverID: "s1", district: "d", role: .student, username: "ann", usernameOrigin: .district,
                grade: "Kindergarten", schools: ["x"]))
        let blank = CleverUser(
            id: "t1", district: "d", roles: CleverRoles(teacher: CleverRole(school: "x", districtUsername: " ")))
        XCTAssertEqual(RosterRules.candidate(for: blank)?.username, "t1")
        XCTAssertEqual(RosterRules.candidate(for: blank)?.usernameOrigin, .missing)
        let admin = CleverUser(
            id: "a1", district: "d",
            roles: CleverRoles(teacher: CleverRole(school: "x", districtUsername: "boss"), staff: CleverRole()))
        XCTAssertEqual(RosterRules.candidate(for: admin)?.username, "a1")
        XCTAssertEqual(RosterRules.candidate(for: admin)?.usernameOrigin, .adminID)
        XCTAssertEqual(RosterRules.candidate(for: admin)?.schools, ["x"])
        XCTAssertNil(
            RosterRules.candidate(for: CleverUser(id: "c", district: "d", roles: CleverRoles(contact: CleverRole()))))
    }
}
