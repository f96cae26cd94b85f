import Foundation
import PostgresClient
import RosterSupport

extension PostgresConnection {
    /// Runs `sql` whose parameters are named (`$account`, `$district`): each distinct name becomes the next
    /// positional parameter, so one statement can use a value twice and a value it does not use is not
    /// sent (PostgreSQL cannot infer the type of a parameter no statement refers to).
    @discardableResult
    func run(_ sql: String, _ values: [String: (any PostgresBindable)?] = [:]) throws -> PostgresRows {
        var text = ""
        var order: [String] = []
        var index = sql.startIndex
        while index < sql.endIndex {
            let character = sql[index]
            let next = sql.index(after: index)
            guard character == "$", next < sql.endIndex, sql[next].isLetter else {
                text.append(character)
                index = next
                continue
            }
            var end = next
            while end < sql.endIndex, sql[end].isLetter || sql[end] == "_" { end = sql.index(after: end) }
            let name = String(sql[next..<end])
            precondition(values.keys.contains(name), "no value for SQL parameter $\(name)")
            if !order.contains(name) { order.append(name) }
            text += "$\(order.firstIndex(of: name)! + 1)"
            index = end
        }
        return try query(text, order.map { values[$0] ?? nil })
    }

    /// Runs statements in order with the same named values; each one slower than a second is logged at debug
    /// level with its first words and its time, to find the next slow step of a sync without a profiler.
    func runTimed(
        _ statements: [String], _ values: [String: (any PostgresBindable)?], logger: Logger?
    ) throws {
        for statement in statements {
            let started = Date()
            try run(statement, values)
            let seconds = Date().timeIntervalSince(started)
            if seconds >= 1, let logger {
                logger.debug(
                    "slow statement",
                    metadata: ["sql.start": Self.summary(statement), "sql.seconds": String(format: "%.2f", seconds)])
            }
        }
    }

    /// The statement's first 80 characters on one line: table names and the step, never a bind value.
    private static func summary(_ statement: String) -> String {
        String(statement.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(80))
    }
}
