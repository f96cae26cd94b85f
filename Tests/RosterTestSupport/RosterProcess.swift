import Foundation

/// The built `rostersync` executable running as a child process, as operators and the fleet run it.
///
/// Output goes to a log file the test can read; `kill()` sends SIGKILL, `terminate()` SIGTERM.
public final class RosterProcess {
    public let process = Process()
    public let logFile: URL

    /// The debug build's executable; `swift build --build-tests` builds it with the tests.
    public static var executable: URL {
        TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/rostersync")
    }

    /// Starts `rostersync ARGUMENTS` with the current environment plus `environment`.
    public init(_ arguments: [String], environment: [String: String]) throws {
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rostersync-\(arguments.first ?? "x")-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit {
        if process.isRunning { kill() }
    }

    public var log: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// SIGKILL: the process gets no chance to clean up.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits up to `timeout` seconds for the exit status.
    @discardableResult
    public func terminate(timeout: Double = 60) -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Runs `rostersync ARGUMENTS` to its end and returns its exit status and output.
    public static func run(
        _ arguments: [String], environment: [String: String], timeout: Double = 120
    ) throws -> (status: Int32, output: String) {
        let child = try RosterProcess(arguments, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while child.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if child.process.isRunning { child.kill() }
        return (child.process.terminationStatus, child.log)
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
/// - Returns: whether it held.
@discardableResult
public func waitUntil(timeout: Double, interval: Double = 0.1, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: interval)
    }
    return try condition()
}
