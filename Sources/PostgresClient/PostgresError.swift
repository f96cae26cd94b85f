import CLibPQ

/// A failure talking to PostgreSQL. The one place where libpq's results become Swift errors.
///
/// `description` carries the server's message and SQLSTATE but never bind values, so it is safe to
/// show an operator.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The server could not be reached or refused the login.
        case connectionFailed
        /// The connection broke during a call; the transaction, if any, is gone.
        case connectionLost
        /// The server rejected a statement; `sqlState` says why.
        case statementFailed
        /// A `COPY` stream failed part-way.
        case copyFailed
        /// A value in a row could not be read as the type asked for.
        case typeMismatch
    }

    public let code: Code
    /// The five-character SQLSTATE, such as `23505` for a unique violation, when the server sent one.
    public let sqlState: String?
    public let message: String

    public init(code: Code, sqlState: String? = nil, message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        let state = sqlState.map { " [\($0)]" } ?? ""
        return "postgres \(code.rawValue)\(state): \(message)"
    }

    /// True for failures that may pass if the same work is tried again later: a lost or refused
    /// connection, a serialization failure, a deadlock, or a server shutting down.
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionLost: return true
        case .copyFailed, .statementFailed:
            guard let sqlState else { return false }
            return sqlState == "40001" || sqlState == "40P01" || sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
        case .typeMismatch: return false
        }
    }

    static func fromConnection(_ handle: OpaquePointer?, code: Code) -> PostgresError {
        let text = handle.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? "no connection"
        let lost = handle.map { PQstatus($0) == CONNECTION_BAD } ?? true
        return PostgresError(code: lost && code != .connectionFailed ? .connectionLost : code, message: trimmed(text))
    }

    static func fromResult(_ result: OpaquePointer?, connection: OpaquePointer?, code: Code) -> PostgresError {
        guard let result else { return fromConnection(connection, code: code) }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        // The primary message only: DETAIL lines quote row values ("Key (name)=(ada)"), which must not
        // reach logs or operators.
        let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
        let text = primary ?? PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
        if state == nil, let connection, PQstatus(connection) == CONNECTION_BAD {
            return PostgresError(code: .connectionLost, message: trimmed(text))
        }
        return PostgresError(code: code, sqlState: state, message: trimmed(text))
    }

    private static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return String(view)
    }
}

extension Set where Element == Character {
    fileprivate static let whitespacesAndNewlines: Set<Character> = [" ", "\n", "\t", "\r"]
}
