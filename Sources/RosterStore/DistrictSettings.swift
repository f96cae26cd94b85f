import Foundation
import PostgresClient
import RosterCore

/// Whether a district's roster flows. `paused` is a separate flag on top of the status.
public enum DistrictStatus: String, Sendable, Codable, CaseIterable {
    /// Requested by onboarding, not yet active.
    case pending
    case connected
    /// The last sync found more students than licenses; the next sync that fits reconnects.
    case disconnectedOverLicense = "disconnected_over_license"
    /// Clever revoked the district's token; set by the fleet.
    case disconnectedRevoked = "disconnected_revoked"
}

/// A district's contract rules, as `district show` prints them.
public struct DistrictSettings: Sendable, Codable, Equatable {
    public var cleverID: String
    public var name: String
    public var status: DistrictStatus
    /// Defaults to false.
    public var paused: Bool
    /// Approved Clever school ids, nil for all shared schools (the default).
    public var schools: [String]?
    /// Canonical grade names, nil for all grades (the default).
    public var grades: [String]?
    /// The most students the district may roster; nil (the default) for no cap.
    public var licenses: Int?
    /// The contract's start date, `YYYY-MM-DD`; kept for the fleet's schedule, nil by default.
    public var startDate: String?
    /// Whether students sign in through Clever. Defaults to false.
    public var cleverSSO: Bool
    /// A run soft deleting more than this percentage of any active kind is held. Defaults to 10.
    public var guardDeletePct: Double
    /// A run updating more than this percentage of any active kind is held. Defaults to 75.
    public var guardUpdatePct: Double
    /// Bumped by every change to the district's roster or settings.
    public var rosterVersion: Int
    public var accountID: Int

    enum CodingKeys: String, CodingKey {
        case cleverID = "clever_id", name, status, paused, schools, grades, licenses
        case startDate = "start_date", cleverSSO = "clever_sso", guardDeletePct = "guard_delete_pct"
        case guardUpdatePct = "guard_update_pct", rosterVersion = "roster_version", accountID = "account_id"
    }
}

/// Changes to a district's settings; nil leaves a setting as it is.
public struct DistrictSettingsChange: Sendable, Equatable {
    public var name: String?
    public var schools: SchoolSelection?
    public var grades: GradeSelection?
    /// `.some(nil)` removes the cap.
    public var licenses: Int??
    /// `.some(nil)` clears the date.
    public var startDate: String??
    public var cleverSSO: Bool?
    public var paused: Bool?
    public var guardDeletePct: Double?
    public var guardUpdatePct: Double?

    public init(
        name: String? = nil, schools: SchoolSelection? = nil, grades: GradeSelection? = nil,
        licenses: Int?? = nil, startDate: String?? = nil, cleverSSO: Bool? = nil, paused: Bool? = nil,
        guardDeletePct: Double? = nil, guardUpdatePct: Double? = nil
    ) {
        self.name = name
        self.schools = schools
        self.grades = grades
        self.licenses = licenses
        self.startDate = startDate
        self.cleverSSO = cleverSSO
        self.paused = paused
        self.guardDeletePct = guardDeletePct
        self.guardUpdatePct = guardUpdatePct
    }

    /// Rejects values the database would refuse, with a message naming the flag.
    func validate() throws {
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw SyncError(.invalidSetting, "--name must not be blank")
        }
        if let licenses = licenses ?? nil, licenses < 0 {
            throw SyncError(.invalidSetting, "--licenses must be 0 or more")
        }
        if let date = startDate ?? nil, !DistrictSettingsChange.isDate(date) {
            throw SyncError(.invalidSetting, "--start-date must be YYYY-MM-DD")
        }
        for (flag, value) in [("guard-delete-pct", guardDeletePct), ("guard-update-pct", guardUpdatePct)] {
            if let value, !(0...100).contains(value) {
                throw SyncError(.invalidSetting, "--\(flag) must be between 0 and 100")
            }
        }
    }

    /// A date of the Gregorian calendar written YYYY-MM-DD; 2027-02-30 is not one.
    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return DateComponents(calendar: calendar, year: year, month: month, day: day).isValidDate
    }
}

/// Reads and writes districts and their settings.
public final class DistrictDirectory {
    let connection: PostgresConnection

    /// Opens its own connection.
    public convenience init(databaseURL: String) throws {
        do {
            self.init(connection: try PostgresConnection(url: databaseURL))
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Creates the district's account and its district row, with status `connected`.
    ///
    /// - Throws: `SyncError` `.districtExists` when the Clever id is already set up.
    @discardableResult
    public func add(cleverID: String, name: String, _ settings: DistrictSettingsChange = .init()) throws
        -> DistrictSettings
    {
        try settings.validate()
        guard !cleverID.isEmpty, !cleverID.contains(where: \.isWhitespace) else {
            throw SyncError(.invalidSetting, "--clever-id must be a Clever id, such as 5a0c91b95c7cc000010d417c")
        }
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SyncError(.invalidSetting, "--name must not be blank")
        }
        do {
            try connection.transaction {
                if try !connection.query("SELECT 1 FROM districts WHERE clever_id = $1", [cleverID]).isEmpty {
                    throw SyncError(.districtExists, "district \(cleverID) is already set up")
                }
                let account = try connection.query(
                    "INSERT INTO accounts (kind, name) VALUES ('district', $1) RETURNING id", [name]
                ).first!.int("id")
                try connection.execute(
                    "INSERT INTO districts (account_id, clever_id, name, status) VALUES ($1, $2, $3, 'connected')",
                    [account, cleverID, name])
                try apply(settings, cleverID: cleverID)
            }
            return try self.settings(cleverID)
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// Changes the given settings; a change to what is rostered also bumps the roster version, so a held
    /// plan made under the old settings cannot be approved.
    @discardableResult
    public func update(cleverID: String, _ change: DistrictSettingsChange) throws -> DistrictSettings {
        try change.validate()
        do {
            _ = try settings(cleverID)
            try connection.transaction { try apply(change, cleverID: cleverID) }
            return try settings(cleverID)
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// - Throws: `SyncError` `.districtNotFound`.
    public func settings(_ cleverID: String) throws -> DistrictSettings {
        do {
            guard let row = try connection.query(Self.selectSettings + " WHERE clever_id = $1", [cleverID]).first
            else {
                throw SyncError(.districtNotFound, "no district with Clever id \(cleverID) is set up")
            }
            return try Self.settings(from: row)
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// Every district, by Clever id.
    public func all() throws -> [DistrictSettings] {
        do {
            return try connection.query(Self.selectSettings + " ORDER BY clever_id").map(Self.settings(from:))
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    /// Sets the district's status, for example `disconnected_revoked` when Clever revokes the token.
    public func setStatus(cleverID: String, _ status: DistrictStatus) throws {
        do {
            let changed = try connection.execute(
                "UPDATE districts SET status = $2, updated_at = now() WHERE clever_id = $1",
                [cleverID, status.rawValue])
            if changed == 0 { throw SyncError(.districtNotFound, "no district with Clever id \(cleverID) is set up") }
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    private func apply(_ change: DistrictSettingsChange, cleverID: String) throws {
        var assignments: [String] = []
        var values: [(any PostgresBindable)?] = [cleverID]
        func set(_ column: String, _ value: (any PostgresBindable)?, cast: String = "") {
            values.append(value)
            assignments.append("\(column) = $\(values.count)\(cast)")
        }
        if let name = change.name { set("name", name) }
        if let schools = change.schools {
            set("approved_schools", schools.ids.map(PostgresTextArray.init), cast: "::text[]")
        }
        if let grades = change.grades {
            set("allowed_grades", grades.sortedGrades.map(PostgresTextArray.init), cast: "::text[]")
        }
        if let licenses = change.licenses { set("licenses", licenses, cast: "::integer") }
        if let startDate = change.startDate { set("start_date", startDate, cast: "::date") }
        if let sso = change.cleverSSO { set("clever_sso", sso) }
        if let paused = change.paused { set("paused", paused) }
        if let pct = change.guardDeletePct { set("guard_delete_pct", pct, cast: "::numeric") }
        if let pct = change.guardUpdatePct { set("guard_update_pct", pct, cast: "::numeric") }
        guard !assignments.isEmpty else { return }
        let sql = """
            UPDATE districts SET \(assignments.joined(separator: ", ")), updated_at = now(),
                roster_version = roster_version + 1
            WHERE clever_id = $1
            """
        try connection.execute(sql, values)
        if let name = change.name {
            try connection.execute(
                "UPDATE accounts SET name = $2 WHERE id = (SELECT account_id FROM districts WHERE clever_id = $1)",
                [cleverID, name])
        }
    }

    static let selectSettings = """
        SELECT account_id, clever_id, name, status, paused, approved_schools, allowed_grades, licenses,
            start_date::text AS start_date, clever_sso, guard_delete_pct::float8 AS guard_delete_pct,
            guard_update_pct::float8 AS guard_update_pct, roster_version
        FROM districts
        """

    static func settings(from row: PostgresRow) throws -> DistrictSettings {
        DistrictSettings(
            cleverID: try row.string("clever_id"), name: try row.string("name"),
            status: DistrictStatus(rawValue: try row.string("status")) ?? .pending, paused: try row.bool("paused"),
            schools: try row.value("approved_schools") == nil ? nil : try row.stringArray("approved_schools"),
            grades: try row.value("allowed_grades") == nil ? nil : try row.stringArray("allowed_grades"),
            licenses: try row.optionalInt("licenses"), startDate: try row.optionalString("start_date"),
            cleverSSO: try row.bool("clever_sso"), guardDeletePct: try row.double("guard_delete_pct"),
            guardUpdatePct: try row.double("guard_update_pct"), rosterVersion: try row.int("roster_version"),
            accountID: try row.int("account_id"))
    }
}
