import Foundation

/// A Swift value that can be sent as a query parameter, in PostgreSQL's text format.
public protocol PostgresBindable: Sendable {
    var postgresText: String { get }
}

extension String: PostgresBindable {
    public var postgresText: String { self }
}

extension Substring: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Int: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Int64: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Int32: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Double: PostgresBindable {
    public var postgresText: String { String(self) }
}

extension Bool: PostgresBindable {
    public var postgresText: String { self ? "t" : "f" }
}

extension UUID: PostgresBindable {
    public var postgresText: String { uuidString.lowercased() }
}

extension Date: PostgresBindable {
    /// ISO 8601 in UTC with microseconds, which `timestamptz` reads back exactly.
    public var postgresText: String {
        let seconds = timeIntervalSince1970
        let whole = floor(seconds)
        let micros = Int(((seconds - whole) * 1_000_000).rounded())
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros)
    }
}

/// A text array parameter, such as `$1::text[]`, written in PostgreSQL's array literal syntax.
public struct PostgresTextArray: PostgresBindable {
    public let values: [String?]

    public init(_ values: [String?]) { self.values = values }

    /// Every element double-quoted, with backslash and double quote escaped inside.
    public var postgresText: String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (position, value) in values.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let value else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
