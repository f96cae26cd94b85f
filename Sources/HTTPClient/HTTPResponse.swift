import Foundation

/// Response headers in the order the server sent them, looked up without regard to case.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var entries: [(name: String, value: String)] = []

    public init(_ entries: [(name: String, value: String)] = []) {
        self.entries = entries
    }

    /// The last value of the header `name` (any case), or nil.
    public subscript(name: String) -> String? {
        let wanted = name.lowercased()
        return entries.last { $0.name.lowercased() == wanted }?.value
    }

    public mutating func append(name: String, value: String) {
        entries.append((name, value))
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        entries.makeIterator()
    }
}

/// One HTTP answer, whatever its status.
public struct HTTPResponse: Sendable {
    /// The status code, such as 200 or 429.
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
