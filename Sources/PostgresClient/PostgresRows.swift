import Foundation

/// The rows a statement returned, copied out of libpq's result so they outlive it.
public struct PostgresRows: Sendable, Sequence {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// The count from the command tag (`UPDATE 3` gives 3), or 0 when the command has none.
    public let affectedRows: Int

    public var count: Int { rows.count }
    public var first: PostgresRow? { rows.first }
    public var isEmpty: Bool { rows.isEmpty }

    public subscript(index: Int) -> PostgresRow { rows[index] }

    public func makeIterator() -> IndexingIterator<[PostgresRow]> { rows.makeIterator() }
}

/// One row; values are PostgreSQL's text format, read through typed accessors.
public struct PostgresRow: Sendable {
    let columnIndex: [String: Int]
    public let values: [String?]

    public func value(_ column: String) throws -> String? {
        guard let index = columnIndex[column] else {
            throw PostgresError(code: .typeMismatch, message: "no column named \(column)")
        }
        return values[index]
    }

    public func string(_ column: String) throws -> String {
        guard let value = try value(column) else { throw nullError(column) }
        return value
    }

    public func optionalString(_ column: String) throws -> String? { try value(column) }

    public func int(_ column: String) throws -> Int {
        guard let value = try optionalInt(column) else { throw nullError(column) }
        return value
    }

    public func optionalInt(_ column: String) throws -> Int? {
        guard let text = try value(column) else { return nil }
        guard let number = Int(text) else { throw mismatch(column, "an integer") }
        return number
    }

    public func double(_ column: String) throws -> Double {
        guard let text = try value(column) else { throw nullError(column) }
        guard let number = Double(text) else { throw mismatch(column, "a number") }
        return number
    }

    public func bool(_ column: String) throws -> Bool {
        guard let text = try value(column) else { throw nullError(column) }
        switch text {
        case "t": return true
        case "f": return false
        default: throw mismatch(column, "a boolean")
        }
    }

    public func optionalBool(_ column: String) throws -> Bool? {
        guard try value(column) != nil else { return nil }
        return try bool(column)
    }

    /// A `timestamptz` column. The connection sets `TimeZone=UTC` and ISO dates, so the text is fixed-form.
    public func date(_ column: String) throws -> Date {
        guard let value = try optionalDate(column) else { throw nullError(column) }
        return value
    }

    public func optionalDate(_ column: String) throws -> Date? {
        guard let text = try value(column) else { return nil }
        guard let date = PostgresRow.parseTimestamp(text) else { throw mismatch(column, "a timestamp") }
        return date
    }

    /// A `text[]` column.
    public func stringArray(_ column: String) throws -> [String] {
        guard let text = try value(column) else { throw nullError(column) }
        guard let array = PostgresArrayParser.parse(text) else { throw mismatch(column, "a text array") }
        return array
    }

    private func nullError(_ column: String) -> PostgresError {
        PostgresError(code: .typeMismatch, message: "column \(column) is NULL")
    }

    private func mismatch(_ column: String, _ expected: String) -> PostgresError {
        PostgresError(code: .typeMismatch, message: "column \(column) is not \(expected)")
    }

    static func parseTimestamp(_ text: String) -> Date? {
        // Shapes: 2026-03-08 10:00:00+00, 2026-03-08 10:00:00.123456+00
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            let rest = String(decoding: bytes[(index + 1)...], as: UTF8.self).split(separator: ":")
            let hours = Int(rest.first ?? "0") ?? 0
            let minutes = rest.count > 1 ? Int(rest[1]) ?? 0 : 0
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch - offsetSeconds) + fraction)
    }
}

/// Reads PostgreSQL's text form of a one-dimensional array: `{a,"b c",NULL}`. NULL items are dropped.
enum PostgresArrayParser {
    static func parse(_ text: String) -> [String]? {
        var chars = Substring(text)
        guard chars.first == "{", chars.last == "}" else { return nil }
        chars = chars.dropFirst().dropLast()
        var items: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        var escaping = false
        for char in chars {
            if escaping {
                current.append(char)
                escaping = false
            } else if char == "\\" {
                escaping = true
            } else if char == "\"" {
                quoted.toggle()
                wasQuoted = true
            } else if char == ",", !quoted {
                if wasQuoted || current != "NULL" { items.append(current) }
                current = ""
                wasQuoted = false
            } else {
                current.append(char)
            }
        }
        if !chars.isEmpty, wasQuoted || current != "NULL" { items.append(current) }
        return items
    }
}
