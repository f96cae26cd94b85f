import Foundation
import PostgresClient

/// One problem of an admin CSV, on the line its record starts on.
public struct AdminImportProblem: Sendable, Codable, Equatable, CustomStringConvertible {
    public var line: Int
    /// The column's name as the import knows it, nil for a problem of the whole line.
    public var column: String?
    public var message: String

    public init(line: Int, column: String?, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// `line 4, column role: unknown role 'teacher' (use district_admin or school_admin)`.
    public var description: String {
        "line \(line)" + (column.map { ", column \($0)" } ?? "") + ": \(message)"
    }
}

/// An error of an admin import, with a code a program can switch on. A rejected file carries every
/// problem found; `description` quotes roles and school names from the file, never a username.
public struct AdminImportError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable, Codable {
        /// The file has problems; nothing was written.
        case rejected
        case districtNotFound = "district_not_found"
        /// A sync of the district holds its lock; try again after it.
        case districtBusy = "district_busy"
        case database
    }

    public let code: Code
    public let message: String
    public let problems: [AdminImportProblem]

    public init(_ code: Code, _ message: String, problems: [AdminImportProblem] = []) {
        self.code = code
        self.message = message
        self.problems = problems
    }

    public var description: String {
        ([message] + problems.map(\.description)).joined(separator: "\n")
    }
}

/// What an import did, or would do on a dry run.
public struct AdminImportResult: Sendable, Codable, Equatable {
    public var created: Int
    public var updated: Int
    public var unchanged: Int
    public var dryRun: Bool

    public init(created: Int, updated: Int, unchanged: Int, dryRun: Bool) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
        self.dryRun = dryRun
    }

    enum CodingKeys: String, CodingKey {
        case created, updated, unchanged, dryRun = "dry_run"
    }
}

/// Imports a district's admins from a CSV file: columns `username`, `first_name`, `last_name`, `email`,
/// `role` (`district_admin` or `school_admin`) and `school` (a school's name or Clever id, needed for
/// school admins; ignored for district admins, who belong to no school), in any order, named in a header
/// without regard to case. `school` may be left out when the file has no school admins.
///
/// The whole file is checked before anything is written, and a file with any problem is rejected whole.
/// Imported admins have source `csv`: the sync never changes or soft deletes them, and they keep their
/// username when a Clever user asks for it. An account with the same username that came from Clever or
/// was created in the product is never taken over. Importing the same file again changes nothing.
public final class AdminImporter {
    let connection: PostgresConnection

    static let requiredColumns = ["username", "first_name", "last_name", "email", "role"]
    static let optionalColumns = ["school"]

    /// Opens its own connection.
    public init(databaseURL: String) throws {
        do {
            connection = try PostgresConnection(url: databaseURL)
        } catch {
            throw AdminImportError(.database, String(describing: error))
        }
    }

    /// Checks the file and, unless `dryRun`, creates and updates the admins it lists, in one transaction.
    ///
    /// - Throws: `AdminImportError` `.rejected` with every problem, `.districtNotFound`, `.districtBusy`
    ///   or `.database`.
    public func importAdmins(csv data: Data, districtCleverID: String, dryRun: Bool = false) throws
        -> AdminImportResult
    {
        do {
            guard
                let district = try connection.run(
                    "SELECT account_id FROM districts WHERE clever_id = $district", ["district": districtCleverID]
                ).first
            else {
                throw AdminImportError(.districtNotFound, "no district with Clever id \(districtCleverID) is set up")
            }
            let accountID = try district.int("account_id")
            let rows = try read(data)
            let directory = try AdminDirectory.load(connection, accountID: accountID)
            let plan = try AdminImportPlan(rows: rows, directory: directory)
            if !plan.problems.isEmpty {
                throw AdminImportError(
                    .rejected, "the file was not imported: \(plan.problems.count) problem(s)", problems: plan.problems)
            }
            let result = AdminImportResult(
                created: plan.creates.count, updated: plan.updates.count, unchanged: plan.unchanged, dryRun: dryRun)
            if !dryRun { try write(plan, accountID: accountID, districtCleverID: districtCleverID) }
            return result
        } catch let error as AdminImportError {
            throw error
        } catch {
            throw AdminImportError(.database, String(describing: error))
        }
    }

    /// The file's rows by column name, or the header's problems.
    private func read(_ data: Data) throws -> [AdminRow] {
        let records: [CSVRecord]
        do {
            records = try CSVReader(connection: connection).records(of: data)
        } catch let malformed as CSVReader.Malformed {
            throw AdminImportError(
                .rejected, "the file was not imported: it cannot be read as CSV", problems: malformed.problems)
        } catch let error as PostgresError where error.code == .copyFailed || error.code == .statementFailed {
            throw AdminImportError(
                .rejected, "the file was not imported: it cannot be read as CSV",
                problems: [
                    AdminImportProblem(line: 1, column: nil, message: "PostgreSQL could not read it: \(error.message)")
                ])
        }
        let header = records[0]
        var index: [String: Int] = [:]
        var problems: [AdminImportProblem] = []
        let known = Self.requiredColumns + Self.optionalColumns
        for (position, raw) in header.fields.enumerated() {
            let name = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if !known.contains(name) {
                problems.append(
                    AdminImportProblem(
                        line: header.line, column: name,
                        message: "unknown column (expected \(known.joined(separator: ", ")))"))
            } else if index[name] != nil {
                problems.append(
                    AdminImportProblem(line: header.line, column: name, message: "the column appears twice"))
            } else {
                index[name] = position
            }
        }
        for name in Self.requiredColumns where index[name] == nil {
            problems.append(AdminImportProblem(line: header.line, column: name, message: "missing column"))
        }
        if !problems.isEmpty {
            throw AdminImportError(.rejected, "the file was not imported: its header is wrong", problems: problems)
        }
        return records.dropFirst().compactMap { record in
            func value(_ name: String) -> String {
                index[name].map { record.fields[$0].trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            }
            let row = AdminRow(
                line: record.line, username: value("username"), firstName: value("first_name"),
                lastName: value("last_name"), email: value("email"), role: value("role"), school: value("school"))
            return row.isBlank ? nil : row
        }
    }

    private func write(_ plan: AdminImportPlan, accountID: Int, districtCleverID: String) throws {
        try connection.transaction {
            // The sync's own lock: a sync planning while admins are written could pick a username an admin
            // takes a moment later.
            guard try connection.tryTransactionAdvisoryLock(DistrictSyncer.lockKey(accountID)) else {
                throw AdminImportError(
                    .districtBusy, "district \(districtCleverID) is being synced; import again after the sync")
            }
            for row in plan.creates {
                let id = try connection.run(
                    """
                    INSERT INTO users (account_id, source, role, username, first_name, last_name)
                    VALUES ($account::bigint, 'csv', $role, $username, $first, $last) RETURNING id
                    """,
                    [
                        "account": accountID, "role": row.role, "username": row.username, "first": row.firstName,
                        "last": row.lastName,
                    ]
                ).first!.int("id")
                try save(row, userID: id, accountID: accountID)
            }
            for (userID, row) in plan.updates {
                try connection.run(
                    """
                    UPDATE users SET role = $role, username = $username, first_name = $first, last_name = $last,
                        deleted_at = NULL, updated_at = now()
                    WHERE id = $id::bigint
                    """,
                    [
                        "id": userID, "role": row.role, "username": row.username, "first": row.firstName,
                        "last": row.lastName,
                    ])
                try save(row, userID: userID, accountID: accountID)
            }
        }
    }

    /// The admin's email and school membership; a school admin belongs to exactly the one school.
    private func save(_ row: PlannedAdmin, userID: Int, accountID: Int) throws {
        try connection.run(
            """
            INSERT INTO csv_admins (user_id, account_id, email) VALUES ($id::bigint, $account::bigint, $email)
            ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, updated_at = now()
                WHERE csv_admins.email IS DISTINCT FROM excluded.email
            """, ["id": userID, "account": accountID, "email": row.email])
        try connection.run(
            """
            UPDATE user_schools SET deleted_at = now(), updated_at = now()
            WHERE user_id = $id::bigint AND deleted_at IS NULL AND school_id IS DISTINCT FROM $school::bigint
            """, ["id": userID, "school": row.schoolID])
        guard let school = row.schoolID else { return }
        try connection.run(
            """
            INSERT INTO user_schools (user_id, school_id, account_id, source)
            VALUES ($id::bigint, $school::bigint, $account::bigint, 'csv')
            ON CONFLICT (user_id, school_id) DO UPDATE SET deleted_at = NULL, updated_at = now()
                WHERE user_schools.deleted_at IS NOT NULL
            """, ["id": userID, "school": school, "account": accountID])
    }
}

/// One data row of the file, trimmed.
struct AdminRow {
    let line: Int
    let username: String
    let firstName: String
    let lastName: String
    let email: String
    let role: String
    let school: String

    var isBlank: Bool {
        [username, firstName, lastName, email, role, school].allSatisfy(\.isEmpty)
    }
}

/// An admin as it will be written.
struct PlannedAdmin: Equatable {
    let username: String
    let role: String
    let firstName: String?
    let lastName: String?
    let email: String?
    let schoolID: Int?
}

/// What the database already holds that an import is checked against: the account's users by
/// lowercased username, and its active schools.
struct AdminDirectory {
    struct User {
        let id: Int
        let source: String
        let current: PlannedAdmin
        let deleted: Bool
    }

    struct School {
        let id: Int
        let cleverID: String?
        let name: String
    }

    var users: [String: User] = [:]
    var schools: [School] = []

    static func load(_ connection: PostgresConnection, accountID: Int) throws -> AdminDirectory {
        var directory = AdminDirectory()
        let users = try connection.run(
            """
            SELECT u.id, u.source, u.role, u.username, u.first_name, u.last_name, u.deleted_at IS NOT NULL AS deleted,
                a.email, (SELECT min(s.school_id) FROM user_schools s
                          WHERE s.user_id = u.id AND s.deleted_at IS NULL) AS school_id
            FROM users u LEFT JOIN csv_admins a ON a.user_id = u.id
            WHERE u.account_id = $account::bigint
            """, ["account": accountID])
        for row in users {
            let username = try row.string("username")
            directory.users[username.lowercased()] = User(
                id: try row.int("id"), source: try row.string("source"),
                current: PlannedAdmin(
                    username: username, role: try row.string("role"), firstName: try row.optionalString("first_name"),
                    lastName: try row.optionalString("last_name"), email: try row.optionalString("email"),
                    schoolID: try row.optionalInt("school_id")),
                deleted: try row.bool("deleted"))
        }
        directory.schools = try connection.run(
            "SELECT id, clever_id, name FROM schools WHERE account_id = $account::bigint AND deleted_at IS NULL",
            ["account": accountID]
        ).map {
            School(id: try $0.int("id"), cleverID: try $0.optionalString("clever_id"), name: try $0.string("name"))
        }
        return directory
    }
}

/// The checked rows of a file: every problem, or what to create and update.
struct AdminImportPlan {
    var problems: [AdminImportProblem] = []
    var creates: [PlannedAdmin] = []
    var updates: [(Int, PlannedAdmin)] = []
    var unchanged = 0

    static let roles = ["district_admin", "school_admin"]

    init(rows: [AdminRow], directory: AdminDirectory) throws {
        var firstLine: [String: Int] = [:]
        for row in rows {
            let before = problems.count
            let key = row.username.lowercased()
            if row.username.isEmpty {
                problem(row, "username", "blank username")
            } else if let first = firstLine[key] {
                problem(row, "username", "duplicate username, first on line \(first)")
            } else {
                firstLine[key] = row.line
                if let holder = directory.users[key], holder.source != "csv" {
                    problem(
                        row, "username",
                        holder.source == "clever"
                            ? "the username belongs to a Clever-rostered account"
                            : "the username belongs to an account created in the product")
                }
            }
            let role = row.role.lowercased()
            if !Self.roles.contains(role) {
                problem(
                    row, "role",
                    (row.role.isEmpty ? "blank role" : "unknown role '\(row.role)'")
                        + " (use district_admin or school_admin)")
            }
            let schoolID = role == "school_admin" ? school(of: row, in: directory) : nil
            guard problems.count == before else { continue }
            let planned = PlannedAdmin(
                username: row.username, role: role, firstName: row.firstName.nilIfEmpty,
                lastName: row.lastName.nilIfEmpty, email: row.email.nilIfEmpty, schoolID: schoolID)
            if let existing = directory.users[key] {
                if existing.current == planned && !existing.deleted {
                    unchanged += 1
                } else {
                    updates.append((existing.id, planned))
                }
            } else {
                creates.append(planned)
            }
        }
    }

    /// The school of a school admin: a Clever id, else a name (ignoring case and spaces) of one school.
    private mutating func school(of row: AdminRow, in directory: AdminDirectory) -> Int? {
        guard !row.school.isEmpty else {
            problem(row, "school", "a school admin needs a school")
            return nil
        }
        if let byID = directory.schools.first(where: { $0.cleverID == row.school }) { return byID.id }
        let named = directory.schools.filter { SchoolNameMatch.key($0.name) == SchoolNameMatch.key(row.school) }
        switch named.count {
        case 1: return named[0].id
        case 0: problem(row, "school", "unknown school '\(row.school)'")
        default: problem(row, "school", "'\(row.school)' names \(named.count) schools; use the school's Clever id")
        }
        return nil
    }

    private mutating func problem(_ row: AdminRow, _ column: String, _ message: String) {
        problems.append(AdminImportProblem(line: row.line, column: column, message: message))
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
