import Foundation

/// Command-line flags and environment variables, read once at start-up.
///
/// Stands in for swift-argument-parser, which cannot be fetched here: `--name value`, `--name=value`,
/// bare `--flag` for booleans, and positional words. Every flag a command reads is marked as used, so
/// `finish()` can reject the ones nobody asked for (a typo gets an error, not silence).
public struct Arguments {
    public private(set) var positional: [String] = []
    private var options: [String: [String]] = [:]
    private var flags: Set<String> = []
    private var used: Set<String> = []
    public let environment: [String: String]

    /// - Parameters:
    ///   - words: the words after the command's name.
    ///   - booleanFlags: flags that take no value.
    public init(
        _ words: [String], booleanFlags: Set<String> = [],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.environment = environment
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            guard word.hasPrefix("--"), word.count > 2 else {
                positional.append(word)
                continue
            }
            var name = String(word.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if booleanFlags.contains(name), value == nil {
                flags.insert(name)
                continue
            }
            if value == nil {
                guard index < words.count else { throw UsageError("--\(name) needs a value") }
                value = words[index]
                index += 1
            }
            options[name, default: []].append(value!)
        }
    }

    /// The last value given for `--name`, else the environment variable `env`, else nil.
    public mutating func string(_ name: String, env: String? = nil) -> String? {
        used.insert(name)
        if let value = options[name]?.last { return value }
        if let env, let value = environment[env], !value.isEmpty { return value }
        return nil
    }

    /// Every value given for a repeatable `--name`.
    public mutating func strings(_ name: String) -> [String] {
        used.insert(name)
        return options[name] ?? []
    }

    public mutating func required(_ name: String, env: String? = nil) throws -> String {
        guard let value = string(name, env: env) else {
            let hint = env.map { " (or set \($0))" } ?? ""
            throw UsageError("--\(name) is required\(hint)")
        }
        return value
    }

    public mutating func int(_ name: String, env: String? = nil, default fallback: Int? = nil) throws -> Int? {
        guard let text = string(name, env: env) else { return fallback }
        guard let value = Int(text) else { throw UsageError("--\(name) must be a whole number, not '\(text)'") }
        return value
    }

    public mutating func double(_ name: String, env: String? = nil, default fallback: Double? = nil) throws -> Double? {
        guard let text = string(name, env: env) else { return fallback }
        guard let value = Double(text) else { throw UsageError("--\(name) must be a number, not '\(text)'") }
        return value
    }

    public mutating func flag(_ name: String) -> Bool {
        used.insert(name)
        return flags.contains(name)
    }

    /// `on`/`off` (also `true`/`false`, `yes`/`no`) for settings such as `--clever-sso on`.
    public mutating func onOff(_ name: String) throws -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "on", "true", "yes", "1": return true
        case "off", "false", "no", "0": return false
        default: throw UsageError("--\(name) takes on or off, not '\(text)'")
        }
    }

    /// Rejects flags no one read.
    public func finish() throws {
        let unknown = Set(options.keys).union(flags).subtracting(used)
        if let first = unknown.sorted().first { throw UsageError("unknown option --\(first)") }
    }
}

/// A mistake in how a command was called. Its message is shown to the operator as it is.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String

    public init(_ message: String) { self.description = message }
}
