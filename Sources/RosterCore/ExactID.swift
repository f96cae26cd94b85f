/// A Clever id compared byte by byte, as PostgreSQL compares text. Swift's `String` equality is canonical
/// equivalence, under which a precomposed "é" equals "e" followed by a combining accent: two ids Clever and
/// the database tell apart.
public struct ExactID: Hashable, Sendable {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public static func == (lhs: ExactID, rhs: ExactID) -> Bool {
        lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var value = value
        value.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
