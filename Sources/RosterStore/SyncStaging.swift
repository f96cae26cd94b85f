import PostgresClient
import RosterCore

/// Streams Clever batches into the run's staging tables with COPY, one batch at a time, so a district's
/// records never sit in memory all at once: each batch is written and dropped.
///
/// Only per-record rules run here (role, primary school, username choice, grade name, in `RosterRules`);
/// everything that compares records with each other is left to the plan's SQL.
final class SyncStaging {
    private let connection: PostgresConnection
    private var sequence: Int64 = 0
    /// Sections staged so far, to notice one that comes twice (its copies are merged before the plan).
    private var sectionIDs = Set<ExactID>()
    private var sectionRepeated = false
    private(set) var records = 0

    init(connection: PostgresConnection) {
        self.connection = connection
    }

    func createTables() throws {
        for statement in SyncSQL.stagingTables + SyncSQL.planTables { try connection.execute(statement) }
    }

    func stage(_ batch: CleverBatch) throws {
        records += batch.count
        switch batch {
        case .districts(let districts):
            try connection.copyIn("COPY stg_districts (clever_id) FROM STDIN") { writer in
                for district in districts { try writer.writeRow([district.id]) }
            }
        case .schools(let schools):
            try connection.copyIn("COPY stg_schools (seq, clever_id, district, name) FROM STDIN") { writer in
                for school in schools { try writer.writeRow([next(), school.id, school.district, school.name]) }
            }
        case .terms:
            // Terms are not rostered yet; they only count as records fetched.
            break
        case .sections(let sections):
            try stageSections(sections)
        case .users(let users):
            try stageUsers(users)
        }
    }

    /// Ends staging: a section that came twice merged into one row, statistics for the plan.
    func analyze() throws {
        if sectionRepeated {
            for statement in SyncSQL.mergeRepeatedSections { try connection.execute(statement) }
        }
        for statement in SyncSQL.analyzeStaging { try connection.execute(statement) }
    }

    /// A section's members go in two array columns of its row: one row per section, not one per member,
    /// is far less for COPY to parse and store. Each list names a user once.
    private func stageSections(_ sections: [CleverSection]) throws {
        let sql = "COPY stg_sections (seq, clever_id, district, school, name, students, teachers) FROM STDIN"
        try connection.copyIn(sql) { writer in
            var seen = Set<ExactID>()
            for section in sections {
                if !sectionIDs.insert(ExactID(section.id)).inserted { sectionRepeated = true }
                seen.removeAll(keepingCapacity: true)
                let students = section.students.filter { seen.insert(ExactID($0)).inserted }
                seen.removeAll(keepingCapacity: true)
                // Clever names the primary teacher separately; it is normally among `teachers` too.
                let teachers = (section.teachers + (section.teacher.map { [$0] } ?? [])).filter {
                    seen.insert(ExactID($0)).inserted
                }
                for field in [next(), section.id, section.district, section.school, section.name] {
                    writer.writeField(field)
                }
                writer.writeField(PostgresTextArray(students).postgresText)
                writer.writeField(PostgresTextArray(teachers).postgresText)
                try writer.endRow()
            }
        }
    }

    private func stageUsers(_ users: [CleverUser]) throws {
        let sql = """
            COPY stg_users (seq, clever_id, district, role, rank, username, username_origin, grade, schools,
                            first_name, last_name) FROM STDIN
            """
        try connection.copyIn(sql) { writer in
            for user in users {
                // Contacts and users without a role are staged too, so a section listing one is not taken
                // for an enrollment of an unknown user.
                guard let candidate = RosterRules.candidate(for: user) else {
                    try writer.writeRow([next(), user.id, user.district] + Array(repeating: nil, count: 8))
                    continue
                }
                try writer.writeRow([
                    next(), candidate.cleverID, candidate.district, candidate.role.rawValue,
                    String(candidate.role.rank), candidate.username, candidate.usernameOrigin.rawValue,
                    candidate.grade, PostgresTextArray(candidate.schools).postgresText, candidate.firstName,
                    candidate.lastName,
                ])
            }
        }
    }

    private func next() -> String {
        sequence += 1
        return String(sequence)
    }
}
