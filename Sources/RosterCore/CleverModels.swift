/// Clever's objects as the v3.0 Data API returns them, reduced to the fields the roster uses.
///
/// Decoding is tolerant on purpose: districts' SIS exports are messy, and one odd record must not fail a
/// whole district. Unknown fields are ignored; a missing, null, empty or wrongly typed optional field
/// reads as nil (numbers where text was expected are kept as text); grades and subjects stay raw
/// strings so a value nobody listed ("13", "Infant") survives. Only `id` is required.
public struct CleverDistrict: Decodable, Sendable, Equatable {
    public var id: String
    public var name: String?

    enum CodingKeys: String, CodingKey {
        case id, name
    }

    public init(id: String, name: String?) {
        self.id = id
        self.name = name
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = container.lenientString(.name)
    }
}

public struct CleverSchool: Decodable, Sendable, Equatable {
    public var id: String
    public var district: String?
    public var name: String?
    public var lowGrade: String?
    public var highGrade: String?
    public var schoolNumber: String?
    public var sisID: String?

    enum CodingKeys: String, CodingKey {
        case id, district, name
        case lowGrade = "low_grade"
        case highGrade = "high_grade"
        case schoolNumber = "school_number"
        case sisID = "sis_id"
    }

    public init(
        id: String, district: String?, name: String?, lowGrade: String? = nil, highGrade: String? = nil,
        schoolNumber: String? = nil, sisID: String? = nil
    ) {
        self.id = id
        self.district = district
        self.name = name
        self.lowGrade = lowGrade
        self.highGrade = highGrade
        self.schoolNumber = schoolNumber
        self.sisID = sisID
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        district = container.lenientString(.district)
        name = container.lenientString(.name)
        lowGrade = container.lenientString(.lowGrade)
        highGrade = container.lenientString(.highGrade)
        schoolNumber = container.lenientString(.schoolNumber)
        sisID = container.lenientString(.sisID)
    }
}

public struct CleverTerm: Decodable, Sendable, Equatable {
    public var id: String
    public var district: String?
    public var name: String?
    public var startDate: String?
    public var endDate: String?

    enum CodingKeys: String, CodingKey {
        case id, district, name
        case startDate = "start_date"
        case endDate = "end_date"
    }

    public init(id: String, district: String?, name: String?, startDate: String? = nil, endDate: String? = nil) {
        self.id = id
        self.district = district
        self.name = name
        self.startDate = startDate
        self.endDate = endDate
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        district = container.lenientString(.district)
        name = container.lenientString(.name)
        startDate = container.lenientString(.startDate)
        endDate = container.lenientString(.endDate)
    }
}

/// A Clever section: a classroom of ours. Its `students` and `teachers` are the enrollments, since
/// Clever has no enrollment endpoint.
public struct CleverSection: Decodable, Sendable, Equatable {
    public var id: String
    public var district: String?
    public var school: String?
    public var name: String?
    public var grade: String?
    public var subject: String?
    public var course: String?
    public var termID: String?
    public var students: [String]
    public var teachers: [String]
    /// The primary teacher, when Clever names one.
    public var teacher: String?

    enum CodingKeys: String, CodingKey {
        case id, district, school, name, grade, subject, course, students, teachers, teacher
        case termID = "term_id"
    }

    public init(
        id: String, district: String?, school: String?, name: String?, grade: String? = nil,
        subject: String? = nil, course: String? = nil, termID: String? = nil, students: [String] = [],
        teachers: [String] = [], teacher: String? = nil
    ) {
        self.id = id
        self.district = district
        self.school = school
        self.name = name
        self.grade = grade
        self.subject = subject
        self.course = course
        self.termID = termID
        self.students = students
        self.teachers = teachers
        self.teacher = teacher
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        district = container.lenientString(.district)
        school = container.lenientString(.school)
        name = container.lenientString(.name)
        grade = container.lenientString(.grade)
        subject = container.lenientString(.subject)
        course = container.lenientString(.course)
        termID = container.lenientString(.termID)
        students = container.lenientStrings(.students)
        teachers = container.lenientStrings(.teachers)
        teacher = container.lenientString(.teacher)
    }
}

public struct CleverName: Decodable, Sendable, Equatable {
    public var first: String?
    public var middle: String?
    public var last: String?

    enum CodingKeys: String, CodingKey {
        case first, middle, last
    }

    public init(first: String?, middle: String? = nil, last: String?) {
        self.first = first
        self.middle = middle
        self.last = last
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        first = container.lenientString(.first)
        middle = container.lenientString(.middle)
        last = container.lenientString(.last)
    }
}

public struct CleverCredentials: Decodable, Sendable, Equatable {
    public var districtUsername: String?

    enum CodingKeys: String, CodingKey {
        case districtUsername = "district_username"
    }

    public init(districtUsername: String?) {
        self.districtUsername = districtUsername
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        districtUsername = container.lenientString(.districtUsername)
    }
}

/// The fields shared by every role object that the roster reads.
public struct CleverRole: Decodable, Sendable, Equatable {
    /// The primary school (students and teachers).
    public var school: String?
    public var schools: [String]
    public var grade: String?
    public var credentials: CleverCredentials?
    public var sisID: String?
    public var title: String?

    enum CodingKeys: String, CodingKey {
        case school, schools, grade, credentials, title
        case sisID = "sis_id"
    }

    public init(
        school: String? = nil, schools: [String] = [], grade: String? = nil, districtUsername: String? = nil,
        sisID: String? = nil, title: String? = nil
    ) {
        self.school = school
        self.schools = schools
        self.grade = grade
        self.credentials = districtUsername.map { CleverCredentials(districtUsername: $0) }
        self.sisID = sisID
        self.title = title
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        school = container.lenientString(.school)
        schools = container.lenientStrings(.schools)
        grade = container.lenientString(.grade)
        credentials = try? container.decodeIfPresent(CleverCredentials.self, forKey: .credentials)
        sisID = container.lenientString(.sisID)
        title = container.lenientString(.title)
    }

    /// `credentials.district_username` as Clever sent it (not trimmed).
    public var districtUsername: String? { credentials?.districtUsername }
}

/// The roles a Clever user holds. Student and contact stand alone; teacher, staff and district_admin
/// may sit on one user.
public struct CleverRoles: Decodable, Sendable, Equatable {
    public var student: CleverRole?
    public var teacher: CleverRole?
    public var staff: CleverRole?
    public var districtAdmin: CleverRole?
    public var contact: CleverRole?

    enum CodingKeys: String, CodingKey {
        case student, teacher, staff, contact
        case districtAdmin = "district_admin"
    }

    public init(
        student: CleverRole? = nil, teacher: CleverRole? = nil, staff: CleverRole? = nil,
        districtAdmin: CleverRole? = nil, contact: CleverRole? = nil
    ) {
        self.student = student
        self.teacher = teacher
        self.staff = staff
        self.districtAdmin = districtAdmin
        self.contact = contact
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        student = try? container.decodeIfPresent(CleverRole.self, forKey: .student)
        teacher = try? container.decodeIfPresent(CleverRole.self, forKey: .teacher)
        staff = try? container.decodeIfPresent(CleverRole.self, forKey: .staff)
        districtAdmin = try? container.decodeIfPresent(CleverRole.self, forKey: .districtAdmin)
        contact = try? container.decodeIfPresent(CleverRole.self, forKey: .contact)
    }
}

public struct CleverUser: Decodable, Sendable, Equatable {
    public var id: String
    public var district: String?
    public var email: String?
    public var name: CleverName?
    public var roles: CleverRoles

    enum CodingKeys: String, CodingKey {
        case id, district, email, name, roles
    }

    public init(id: String, district: String?, email: String? = nil, name: CleverName? = nil, roles: CleverRoles) {
        self.id = id
        self.district = district
        self.email = email
        self.name = name
        self.roles = roles
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        district = container.lenientString(.district)
        email = container.lenientString(.email)
        name = try? container.decodeIfPresent(CleverName.self, forKey: .name)
        roles = (try? container.decodeIfPresent(CleverRoles.self, forKey: .roles)) ?? CleverRoles()
    }
}

extension KeyedDecodingContainer {
    /// A string field, or a number written as text, or nil when missing, null or of another type.
    func lenientString(_ key: Key) -> String? {
        if let text = try? decodeIfPresent(String.self, forKey: key) { return text }
        if let number = try? decodeIfPresent(Int.self, forKey: key) { return String(number) }
        if let number = try? decodeIfPresent(Double.self, forKey: key) { return String(number) }
        return nil
    }

    /// An array of ids; non-string items are skipped, a missing or malformed array is empty.
    func lenientStrings(_ key: Key) -> [String] {
        if let items = try? decodeIfPresent([String].self, forKey: key) { return items }
        guard var nested = try? nestedUnkeyedContainer(forKey: key) else { return [] }
        var items: [String] = []
        while !nested.isAtEnd {
            if let item = try? nested.decode(String.self) {
                items.append(item)
            } else {
                _ = try? nested.decode(Skipped.self)
            }
        }
        return items
    }
}

/// Consumes one JSON value of any shape.
private struct Skipped: Decodable {
    init(from decoder: any Decoder) throws {}
}
