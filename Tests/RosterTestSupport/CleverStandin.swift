import Foundation
import HTTPClient

/// The Clever stand-in (`scripts/clever-standin`) running for one test, on a free port.
///
/// Starts with `--port 0`, learns its URL from the "listening on" line, and is stopped by `stop()` or
/// when the object goes away. Faults can be changed while it runs, and its counters read, through its
/// control endpoints.
public final class CleverStandin {
    /// Its origin, such as `http://127.0.0.1:41234`; use it for both the API and the OAuth URL.
    public let url: String
    private let process = Process()
    private let control: HTTPClient

    /// The stand-in's default OAuth client id and secret.
    public static let clientID = "standin-client"
    public static let clientSecret = "standin-secret"
    /// The demo district's token, from its tokens.json.
    public static let demoToken = "demo-district-token-0001"

    /// - Parameters:
    ///   - datasets: district folders; defaults to the demo district.
    ///   - arguments: further flags, such as `["--fail-rate", "0.2"]`.
    public init(datasets: [URL]? = nil, arguments: [String] = []) throws {
        let folders = try datasets ?? [CleverStandin.demoDataset()]
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/clever-standin")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", script.path, "--port", "0"] + folders.flatMap { ["--dataset", $0.path] } + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n") && Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let start = text.range(of: "listening on ")?.upperBound,
            let end = text[start...].firstIndex(where: { $0 == " " || $0 == "\n" })
        else {
            process.terminate()
            throw TestEnvironment.Missing(description: "the Clever stand-in did not start; it printed '\(text)'")
        }
        url = String(text[start..<end])
        control = try HTTPClient(configuration: .init(connectTimeout: 5, timeout: 30))
    }

    deinit { stop() }

    /// Stops the stand-in and waits for it to exit.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Changes fault settings (`fail_rate`, `burst_429`, `latency_ms`, `drop_rate`, `revoke_after`,
    /// `mutate_while_paging`, `seed`, `rate_limit`); the rest stay as they are.
    public func setFaults(_ faults: [String: Any]) throws {
        _ = try controlCall("/__control/faults", body: faults)
    }

    /// All faults off, counters cleared, records changed while paging put back.
    public func reset() throws {
        _ = try controlCall("/__control/reset", body: [:])
    }

    /// `{"requests": N, "by_status": {...}, "by_kind": {...}, "faults": {...}}`.
    public func stats() throws -> [String: Any] {
        try controlCall("/__control/stats", body: nil)
    }

    /// Lets the token exchange accept `code` as a sign-in of the Clever user `userID`.
    public func addLoginCode(_ code: String, userID: String) throws {
        _ = try controlCall("/__control/login-codes", body: ["codes": [code: userID]])
    }

    /// A count from `stats()["faults"]`, such as `dropped` or `burst_429`.
    public func faultCount(_ name: String) throws -> Int {
        ((try stats()["faults"] as? [String: Any])?[name] as? Int) ?? 0
    }

    /// How many answers had `status`, from `stats()["by_status"]`.
    public func statusCount(_ status: Int) throws -> Int {
        ((try stats()["by_status"] as? [String: Any])?["\(status)"] as? Int) ?? 0
    }

    /// GET of a host-relative URI with the demo token, for looking records up in tests.
    public func get(_ uri: String, token: String = CleverStandin.demoToken) throws -> HTTPResponse {
        try control.get(url + uri, headers: ["Authorization": "Bearer \(token)"])
    }

    private func controlCall(_ path: String, body: [String: Any]?) throws -> [String: Any] {
        let response: HTTPResponse
        if let body {
            let data = try JSONSerialization.data(withJSONObject: body)
            response = try control.post(url + path, headers: ["Content-Type": "application/json"], body: data)
        } else {
            response = try control.get(url + path)
        }
        guard response.status == 200,
            let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        else {
            throw TestEnvironment.Missing(
                description:
                    "stand-in \(path) answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        return object
    }

    /// The demo district: `../shared/clever-demo` beside the checkout, or beside a folder above it (a git
    /// worktree such as `wt/clever` sits one level deeper than the main checkout).
    public static func demoDataset() throws -> URL {
        if let url = try? TestEnvironment.sharedFolder("clever-demo") { return url }
        var folder = TestEnvironment.repositoryRoot.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("shared/clever-demo")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            folder.deleteLastPathComponent()
        }
        return try TestEnvironment.sharedFolder("clever-demo")
    }
}
