import PostgresClient

/// Writes a district's roster as JSON, in a fixed shape and order so two exports can be compared as text.
///
/// Soft-deleted rows are included with `"active": false`. PostgreSQL builds each object with
/// `json_build_object`, which keeps the keys in the order written; one object per line.
public final class RosterExport {
    let connection: PostgresConnection

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

    /// The whole export as one string.
    public func export(districtCleverID: String) throws -> String {
        var text = ""
        try export(districtCleverID: districtCleverID) { text += $0 }
        return text
    }

    /// Streams the export to `write` in pieces.
    ///
    /// - Throws: `SyncError` `.districtNotFound` or `.database`.
    public func export(districtCleverID: String, _ write: (String) -> Void) throws {
        do {
            guard
                let district = try connection.run(
                    "SELECT account_id, status, json_build_object('district', clever_id, 'status', status)::text AS head "
                        + "FROM districts WHERE clever_id = $district", ["district": districtCleverID]
                ).first
            else { throw SyncError(.districtNotFound, "no district with Clever id \(districtCleverID) is set up") }
            let account = try district.int("account_id")
            var head = try district.string("head")
            head.removeLast()
            write(head)
            for (index, (key, sql)) in Self.sections.enumerated() {
                write(",\n \"\(key)\": [")
                let rows = try connection.run(sql, ["account": account])
                for (position, row) in rows.enumerated() {
                    write((position == 0 ? "\n  " : ",\n  ") + (try row.string("item")))
                }
                write(rows.isEmpty ? "]" : "\n ]")
                if index == Self.sections.count - 1 { write("}\n") }
            }
        } catch {
            throw SyncError.wrapping(error)
        }
    }

    static let sections: [(String, String)] = [
        (
            "schools",
            """
            SELECT json_build_object('clever_id', clever_id, 'name', name, 'active', deleted_at IS NULL)::text AS item
            FROM schools WHERE account_id = $account::bigint ORDER BY clever_id COLLATE "C", id
            """
        ),
        (
            "classrooms",
            """
            SELECT json_build_object('clever_id', c.clever_id, 'school', s.clever_id, 'name', c.name,
                                     'active', c.deleted_at IS NULL)::text AS item
            FROM classrooms c LEFT JOIN schools s ON s.id = c.school_id
            WHERE c.account_id = $account::bigint ORDER BY c.clever_id COLLATE "C", c.id
            """
        ),
        (
            "users",
            """
            SELECT json_build_object('clever_id', u.clever_id, 'username', u.username, 'role', u.role,
                'schools', coalesce((SELECT json_agg(s.clever_id ORDER BY s.clever_id COLLATE "C")
                                     FROM user_schools us JOIN schools s ON s.id = us.school_id
                                     WHERE us.user_id = u.id AND us.deleted_at IS NULL), '[]'::json),
                'source', u.source, 'active', u.deleted_at IS NULL)::text AS item
            FROM users u WHERE u.account_id = $account::bigint
            ORDER BY lower(u.username) COLLATE "C", u.clever_id COLLATE "C"
            """
        ),
        (
            "enrollments",
            """
            SELECT json_build_object('classroom', c.clever_id, 'user', u.clever_id, 'role', e.role,
                                     'active', e.deleted_at IS NULL)::text AS item
            FROM enrollments e JOIN classrooms c ON c.id = e.classroom_id JOIN users u ON u.id = e.user_id
            WHERE c.account_id = $account::bigint ORDER BY c.clever_id COLLATE "C", u.clever_id COLLATE "C"
            """
        ),
    ]
}
