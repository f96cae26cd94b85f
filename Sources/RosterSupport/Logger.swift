import Foundation

/// A small structured logger shaped like swift-log's `Logger`, which cannot be fetched here.
///
/// Libraries log at `debug` and `info`; the executable chooses the level and the format. Metadata keys
/// are dotted (`district.id`, `run.id`, `clever.page`). Stamp a job's ids on a copy once and pass the
/// copy down: `var log = logger; log[metadataKey: "run.id"] = "\(runID)"`.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        public var name: String { String(describing: self) }

        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
            self = level
        }

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public enum Format: String, Sendable {
        case text, json
    }

    /// Where lines go. The default writes one line per event to standard error.
    public struct Sink: Sendable {
        let write: @Sendable (String) -> Void

        public init(_ write: @escaping @Sendable (String) -> Void) { self.write = write }

        public static let standardError = Sink { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    public var label: String
    public var level: Level
    public var format: Format
    public var metadata: [String: String]
    let sink: Sink

    public init(label: String, level: Level = .info, format: Format = .text, sink: Sink = .standardError) {
        self.label = label
        self.level = level
        self.format = format
        self.metadata = [:]
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> String? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// A copy of this logger with `values` added to its metadata.
    public func with(_ values: [String: String]) -> Logger {
        var copy = self
        copy.metadata.merge(values) { _, new in new }
        return copy
    }

    public func log(_ level: Level, _ message: @autoclosure () -> String, metadata extra: [String: String] = [:]) {
        guard level >= self.level else { return }
        let all = metadata.merging(extra) { _, new in new }
        sink.write(render(level: level, message: message(), metadata: all))
    }

    public func trace(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.trace, message(), metadata: metadata)
    }
    public func debug(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.debug, message(), metadata: metadata)
    }
    public func info(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.info, message(), metadata: metadata)
    }
    public func notice(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.notice, message(), metadata: metadata)
    }
    public func warning(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.warning, message(), metadata: metadata)
    }
    public func error(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.error, message(), metadata: metadata)
    }

    func render(level: Level, message: String, metadata: [String: String]) -> String {
        let time = Logger.timestamp()
        switch format {
        case .json:
            var object: [String: String] = metadata
            object["time"] = time
            object["level"] = level.name
            object["label"] = label
            object["message"] = message
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .text:
            let pairs = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
            return "\(time) \(level.name) \(label): \(message)" + (pairs.isEmpty ? "" : " " + pairs)
        }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
