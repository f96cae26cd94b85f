import CLibPQ
import Foundation

/// One connection to PostgreSQL through libpq.
///
/// Calls block the calling thread, so use a connection from a thread you own (a Dispatch queue or a
/// worker thread), never from a Swift concurrency task, and from one thread at a time. The connection
/// is closed when the object goes away, also after a failed connect.
///
/// Only parameterized statements are offered: values travel as `$1`, `$2`, ..., never inside SQL text.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private var transactionDepth = 0

    /// Opens a connection.
    ///
    /// - Parameter url: a libpq connection URI, such as `postgresql://user:pass@127.0.0.1:5432/db`.
    /// - Throws: `PostgresError` with code `.connectionFailed`.
    public init(url: String) throws {
        handle = PQconnectdb(url)
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let error = PostgresError.fromConnection(handle, code: .connectionFailed)
            PQfinish(handle)
            self.handle = nil
            throw error
        }
        // libpq prints NOTICE messages to stderr by default; ours are expected ("already exists") noise.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        try execute("SET TimeZone = 'UTC'")
        try execute("SET DateStyle = 'ISO, YMD'")
    }

    deinit {
        PQfinish(handle)
    }

    /// True while the server still answers; false after the connection broke.
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server's process id for this connection, as `pg_backend_pid()` gives it.
    public var backendPID: Int32 {
        handle.map { PQbackendPID($0) } ?? 0
    }

    /// Runs one statement and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: one statement with `$1`, `$2`, ... placeholders.
    ///   - parameters: the values, `nil` for NULL.
    /// - Throws: `PostgresError`; `.statementFailed` carries the SQLSTATE.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> PostgresRows {
        let handle = try liveHandle()
        let texts = parameters.map { $0?.postgresText }
        let result = withCStrings(texts) { pointers in
            PQexecParams(handle, sql, Int32(pointers.count), nil, pointers, nil, nil, 0)
        }
        defer { PQclear(result) }
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw PostgresError.fromResult(result, connection: handle, code: .statementFailed)
        }
        return Self.rows(of: result!)
    }

    /// Runs one statement and returns how many rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int {
        try query(sql, parameters).affectedRows
    }

    /// Runs several statements given as one text, with no parameters: for migrations only.
    public func executeScript(_ sql: String) throws {
        let handle = try liveHandle()
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw PostgresError.fromResult(result, connection: handle, code: .statementFailed)
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    ///
    /// Nested calls become savepoints, so a helper that needs a transaction can be called from inside one.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let savepoint = "sp\(transactionDepth)"
        try execute(transactionDepth == 0 ? "BEGIN" : "SAVEPOINT \(savepoint)")
        transactionDepth += 1
        do {
            let value = try body()
            transactionDepth -= 1
            try execute(transactionDepth == 0 ? "COMMIT" : "RELEASE SAVEPOINT \(savepoint)")
            return value
        } catch {
            transactionDepth -= 1
            if isConnected {
                _ = try? execute(transactionDepth == 0 ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT \(savepoint)")
            }
            throw error
        }
    }

    /// Streams rows into `COPY ... FROM STDIN` (text format).
    ///
    /// - Parameters:
    ///   - sql: a `COPY table (columns) FROM STDIN` statement.
    ///   - body: writes rows through the writer; a throw aborts the copy and the server keeps nothing.
    /// - Returns: the number of rows the server took.
    @discardableResult
    public func copyIn(_ sql: String, _ body: (PostgresCopyWriter) throws -> Void) throws -> Int {
        let handle = try liveHandle()
        let start = PQexec(handle, sql)
        let startStatus = start.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard startStatus == PGRES_COPY_IN else {
            let error = PostgresError.fromResult(start, connection: handle, code: .copyFailed)
            PQclear(start)
            throw error
        }
        PQclear(start)
        let writer = PostgresCopyWriter(connection: handle)
        do {
            try body(writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by client")
            drainResults(handle)
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            drainResults(handle)
            throw PostgresError.fromConnection(handle, code: .copyFailed)
        }
        var failure: PostgresError?
        var count = 0
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = PostgresError.fromResult(result, connection: handle, code: .copyFailed)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return count
    }

    /// Takes the session-level advisory lock `key` if nobody holds it.
    ///
    /// - Returns: false when another session holds it.
    public func tryAdvisoryLock(_ key: Int64) throws -> Bool {
        try query("SELECT pg_try_advisory_lock($1) AS locked", [key]).first!.bool("locked")
    }

    /// Releases a lock taken with `tryAdvisoryLock`.
    public func advisoryUnlock(_ key: Int64) throws {
        try execute("SELECT pg_advisory_unlock($1)", [key])
    }

    /// Takes the transaction-level advisory lock `key` if free; it is released at commit or rollback.
    public func tryTransactionAdvisoryLock(_ key: Int64) throws -> Bool {
        try query("SELECT pg_try_advisory_xact_lock($1) AS locked", [key]).first!.bool("locked")
    }

    private func liveHandle() throws -> OpaquePointer {
        guard let handle else { throw PostgresError(code: .connectionLost, message: "connection is closed") }
        if PQstatus(handle) != CONNECTION_OK {
            throw PostgresError(code: .connectionLost, message: "connection to the server was lost")
        }
        return handle
    }

    private func drainResults(_ handle: OpaquePointer) {
        while let result = PQgetResult(handle) { PQclear(result) }
    }

    private static func rows(of result: OpaquePointer) -> PostgresRows {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        var index: [String: Int] = [:]
        for column in 0..<columnCount {
            let name = String(cString: PQfname(result, Int32(column)))
            columns.append(name)
            if index[name] == nil { index[name] = column }
        }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(PostgresRow(columnIndex: index, values: values))
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, rows: rows, affectedRows: affected)
    }
}

/// Gives C an array of C strings (NULL for nil) that lives for the duration of `body`.
private func withCStrings<R>(_ values: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = values.map { value in value.map { strdup($0)! } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
