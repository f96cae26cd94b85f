import CleverClient
import Foundation
import RosterCore
import RosterSupport

/// Commands that read Clever directly, for operators checking a district or the app's authorizations.
enum CleverCommands {
    static let all: [Command] = [summary, districts]

    static let summary = Command(
        path: ["clever", "summary"],
        usage: "clever summary [--clever-url URL] [--token TOKEN] [--clever-page-size N] [--clever-connections N]",
        summary: "Print a district's record counts from Clever as JSON (token from ROSTERSYNC_CLEVER_TOKEN)"
    ) { arguments, logger in
        let configuration = try CleverConfiguration.read(&arguments)
        let token = try arguments.required("token", env: "ROSTERSYNC_CLEVER_TOKEN")
        try arguments.finish()
        let fetcher = CleverFetcher(
            token: token, configuration: configuration, includeContacts: true, logger: logger)
        var counts = CleverSummary()
        _ = try fetcher.fetchAll { counts.add($0) }
        print(try counts.json())
        return 0
    }

    static let districts = Command(
        path: ["clever", "districts"],
        usage: "clever districts [--clever-oauth-url URL]",
        summary: "List the ids of the districts that authorized the app (credentials from the environment)"
    ) { arguments, logger in
        let configuration = try CleverConfiguration.read(&arguments)
        try arguments.finish()
        let tokens = try CleverOAuth(configuration: configuration, logger: logger).listDistrictTokens()
        for districtID in tokens.map(\.districtID).sorted() {
            print(districtID)
        }
        return 0
    }
}

/// Counts of a district as Clever shows them: users counted once each in the total, and once per role
/// they hold in the role counts; sections counted once even when listed per school.
struct CleverSummary {
    private var districtID: String?
    private var schools: Set<String> = []
    private var terms: Set<String> = []
    private var sections: [String: (students: Int, teachers: Int)] = [:]
    private var roles: [String: Set<String>] = [:]
    private var users: Set<String> = []

    mutating func add(_ batch: CleverBatch) {
        switch batch {
        case .districts(let records): districtID = districtID ?? records.first?.id
        case .schools(let records): schools.formUnion(records.map(\.id))
        case .terms(let records): terms.formUnion(records.map(\.id))
        case .sections(let records):
            for section in records {
                sections[section.id] = (Set(section.students).count, Set(section.teachers).count)
            }
        case .users(let records):
            for user in records {
                users.insert(user.id)
                let held: [(String, CleverRole?)] = [
                    ("student", user.roles.student), ("teacher", user.roles.teacher), ("staff", user.roles.staff),
                    ("district_admin", user.roles.districtAdmin), ("contact", user.roles.contact),
                ]
                for (role, detail) in held where detail != nil {
                    roles[role, default: []].insert(user.id)
                }
            }
        }
    }

    func json() throws -> String {
        let roleNames = ["student", "teacher", "staff", "district_admin", "contact"]
        let object: [String: Any] = [
            "district": districtID ?? "",
            "schools": schools.count,
            "terms": terms.count,
            "sections": sections.count,
            "student_enrollments": sections.values.reduce(0) { $0 + $1.students },
            "teacher_enrollments": sections.values.reduce(0) { $0 + $1.teachers },
            "users": Dictionary(uniqueKeysWithValues: roleNames.map { ($0, roles[$0]?.count ?? 0) }),
            "users_total": users.count,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
