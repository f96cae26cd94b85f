import Foundation
import PostgresClient
import RosterSupport

/// Entry points of the store that take a database URL, for the fleet and the CLI.
public enum RosterStore {
    /// The advisory lock that serializes migrations across processes.
    static let migrationLockKey: Int64 = 0x5253_4D49_4752_4154

    /// Applies every migration step not yet recorded in `schema_migrations`, each in its own transaction.
    ///
    /// Safe to run again and from several processes at once: a transaction-level advisory lock serializes
    /// them, and applied steps are skipped.
    /// - Returns: the versions applied by this call (empty when the schema was current).
    @discardableResult
    public static func migrate(url: String, logger: Logger? = nil) throws -> [Int] {
        let connection = try PostgresConnection(url: url)
        return try migrate(connection, logger: logger)
    }

    @discardableResult
    static func migrate(_ connection: PostgresConnection, logger: Logger? = nil) throws -> [Int] {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var applied: [Int] = []
        for step in Migrations.steps {
            let done = try connection.transaction { () -> Bool in
                try connection.execute("SELECT pg_advisory_xact_lock($1)", [migrationLockKey])
                let exists = try connection.query("SELECT 1 FROM schema_migrations WHERE version = $1", [step.version])
                guard exists.isEmpty else { return false }
                try connection.executeScript(step.sql)
                try connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [step.version, step.name])
                return true
            }
            if done {
                applied.append(step.version)
                logger?.info("applied migration", metadata: ["migration.version": "\(step.version)"])
            }
        }
        return applied
    }
}
