import PostgresClient

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
}
