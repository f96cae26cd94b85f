/// The role a rostered user holds in our database.
public enum RosterRole: String, Sendable, Codable, CaseIterable {
    case student
    case teacher
    case schoolAdmin = "school_admin"
    case districtAdmin = "district_admin"

    /// Orders the roles when one user arrives more than once: a student stays a student, and otherwise
    /// the higher role wins.
    public var rank: Int {
        switch self {
        case .student: return 4
        case .districtAdmin: return 3
        case .schoolAdmin: return 2
        case .teacher: return 1
        }
    }
}

/// Where a candidate's username came from, for the `username.empty` finding.
public enum UsernameOrigin: String, Sendable {
    /// `credentials.district_username`, trimmed.
    case district
    /// The district username was missing or blank, so the Clever id stands in.
    case missing
    /// Admins always use their Clever id.
    case adminID = "admin_id"
}

/// One Clever user reduced to what the roster rules need, before any set-based rule (approved schools,
/// grades, username conflicts) is applied. Built per record while batches stream in, so no rule here may
/// look at another record.
public struct RosterCandidate: Sendable, Equatable {
    public var cleverID: String
    public var district: String?
    public var role: RosterRole
    /// The username the user asks for (rule 5); conflicts are settled later, over the whole district.
    public var username: String
    public var usernameOrigin: UsernameOrigin
    /// The canonical grade for students, nil for staff.
    public var grade: String?
    /// Students: the primary school only. Teachers and school admins: every school of their teacher and
    /// staff roles, in first-seen order without repeats. District admins: none.
    public var schools: [String]
    public var firstName: String?
    public var lastName: String?

    public init(
        cleverID: String, district: String?, role: RosterRole, username: String, usernameOrigin: UsernameOrigin,
        grade: String?, schools: [String], firstName: String? = nil, lastName: String? = nil
    ) {
        self.cleverID = cleverID
        self.district = district
        self.role = role
        self.username = username
        self.usernameOrigin = usernameOrigin
        self.grade = grade
        self.schools = schools
        self.firstName = firstName
        self.lastName = lastName
    }
}

/// The per-record roster rules: role choice (rule 2), primary school (rule 3), staff schools (rule 4) and
/// username choice (rule 5).
public enum RosterRules {
    /// The role Clever's roles give: student if Clever says student, else the highest of district admin,
    /// school admin (`staff`) and teacher; nil for contacts and users with no role we roster.
    public static func role(of roles: CleverRoles) -> RosterRole? {
        if roles.student != nil { return .student }
        if roles.districtAdmin != nil { return .districtAdmin }
        if roles.staff != nil { return .schoolAdmin }
        if roles.teacher != nil { return .teacher }
        return nil
    }

    /// `credentials.district_username` trimmed, or nil when missing or blank.
    public static func normalizedUsername(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let trimmed = raw.trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The student's primary school: `roles.student.school`, or the first of `schools` when it is missing.
    public static func primarySchool(of student: CleverRole) -> String? {
        if let school = student.school.flatMap(normalizedUsername) { return school }
        return student.schools.lazy.compactMap(normalizedUsername).first
    }

    /// The union of the teacher and staff roles' `school` and `schools`, first seen first, without repeats.
    public static func staffSchools(of roles: CleverRoles) -> [String] {
        var seen = Set<ExactID>()
        var schools: [String] = []
        for role in [roles.teacher, roles.staff].compactMap({ $0 }) {
            for school in ([role.school] + role.schools.map(Optional.some)).compactMap({ $0 }) {
                guard !school.isEmpty, seen.insert(ExactID(school)).inserted else { continue }
                schools.append(school)
            }
        }
        return schools
    }

    /// The candidate for `user`, or nil when the user is not rostered at all (contacts, no role).
    public static func candidate(for user: CleverUser) -> RosterCandidate? {
        guard let role = role(of: user.roles) else { return nil }
        let roleObject: CleverRole?
        switch role {
        case .student: roleObject = user.roles.student
        case .teacher: roleObject = user.roles.teacher
        case .schoolAdmin, .districtAdmin: roleObject = nil
        }
        let username: String
        let origin: UsernameOrigin
        if roleObject == nil {
            (username, origin) = (user.id, .adminID)
        } else if let given = normalizedUsername(roleObject?.districtUsername) {
            (username, origin) = (given, .district)
        } else {
            (username, origin) = (user.id, .missing)
        }
        let schools: [String]
        switch role {
        case .student: schools = user.roles.student.flatMap(primarySchool).map { [$0] } ?? []
        case .teacher, .schoolAdmin: schools = staffSchools(of: user.roles)
        case .districtAdmin: schools = []
        }
        return RosterCandidate(
            cleverID: user.id, district: user.district, role: role, username: username, usernameOrigin: origin,
            grade: role == .student ? CleverGrade.normalize(user.roles.student?.grade) : nil, schools: schools,
            firstName: user.name?.first, lastName: user.name?.last)
    }
}
