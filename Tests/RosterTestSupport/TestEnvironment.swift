import Foundation
import PostgresClient

/// Where the tests find the real servers and the shared input, with a clear failure when they are missing.
public enum TestEnvironment {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) { self.description = description }
    }

    /// The checkout's root folder.
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `ROSTERSYNC_DATABASE_URL`, as `eval "$(scripts/services env)"` sets it.
    public static func databaseURL() throws -> String {
        try variable("ROSTERSYNC_DATABASE_URL")
    }

    /// `ROSTERSYNC_AMQP_URL`, as `eval "$(scripts/services env)"` sets it.
    public static func amqpURL() throws -> String {
        try variable("ROSTERSYNC_AMQP_URL")
    }

    /// A folder of `../shared` beside the checkout, such as `clever-demo`.
    public static func sharedFolder(_ name: String) throws -> URL {
        let url = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/\(name)")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Missing(description: "this test reads ../shared/\(name) beside the checkout, and it is missing")
        }
        return url
    }

    public static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw Missing(
                description: "\(name) is not set: run scripts/services start, then eval \"$(scripts/services env)\"")
        }
        return value
    }
}

/// A database of its own for one test, created empty and dropped by `drop()`.
public final class TestDatabase {
    public let name: String
    public let url: String
    private let adminURL: String

    public init(prefix: String = "test") throws {
        adminURL = try TestEnvironment.databaseURL()
        let suffix = UUID().uuidString.prefix(8).lowercased()
        name = "\(prefix)_\(suffix)".lowercased()
        let admin = try PostgresConnection(url: adminURL)
        // Identifiers cannot be parameters; the name is ours, made of [a-z0-9_] only.
        try admin.execute("CREATE DATABASE \(name)")
        guard var components = URLComponents(string: adminURL) else {
            throw TestEnvironment.Missing(description: "ROSTERSYNC_DATABASE_URL is not a URL")
        }
        components.path = "/\(name)"
        url = components.string!
    }

    public func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url)
    }

    public func drop() {
        guard let admin = try? PostgresConnection(url: adminURL) else { return }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

extension TestEnvironment {
    /// Runs `scripts/services ARGUMENTS` (such as `rabbitmqctl stop_app`) and returns its output.
    @discardableResult
    public static func services(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("scripts/services")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Missing(description: "scripts/services \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
    }

    /// Writes a district of `students` students with `scripts/generate-district` into a new temporary folder.
    public static func generateDistrict(students: Int, seed: Int, extra: [String] = []) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "district-\(seed)-\(UUID().uuidString.prefix(6))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", repositoryRoot.appendingPathComponent("scripts/generate-district").path, "--students",
                String(students), "--seed", String(seed), "--out", folder.path,
            ] + extra
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Missing(description: "scripts/generate-district failed: \(message)")
        }
        return folder
    }

    /// The Clever id of the district in a dataset folder (its districts.json).
    public static func districtID(of dataset: URL) throws -> String {
        let data = try Data(contentsOf: dataset.appendingPathComponent("districts.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let first = (object?["data"] as? [[String: Any]])?.first?["data"] as? [String: Any]
        guard let id = first?["id"] as? String else {
            throw Missing(description: "\(dataset.lastPathComponent)/districts.json names no district")
        }
        return id
    }
}
