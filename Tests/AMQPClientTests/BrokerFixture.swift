import AMQPClient
import Foundation
import RosterTestSupport
import XCTest

/// Queues and exchanges of one test, named with a unique suffix and deleted after it.
final class BrokerFixture {
    let url: String
    private(set) var queues: [String] = []
    private(set) var exchanges: [String] = []
    private let suffix = UUID().uuidString.prefix(8).lowercased()

    init() throws {
        url = try TestEnvironment.amqpURL()
    }

    func connect(name: String? = nil) throws -> AMQPConnection {
        try AMQPConnection(configuration: configuration(name: name))
    }

    func configuration(name: String? = nil) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: url)
        configuration.connectionName = name
        return configuration
    }

    func queueName(_ prefix: String) -> String {
        let name = "test.\(prefix).\(suffix)"
        queues.append(name)
        return name
    }

    func exchangeName(_ prefix: String) -> String {
        let name = "test.\(prefix).\(suffix)"
        exchanges.append(name)
        return name
    }

    func cleanUp() {
        guard let connection = try? connect() else { return }
        for queue in queues { _ = try? connection.deleteQueue(queue) }
        for exchange in exchanges { try? connection.deleteExchange(exchange) }
        connection.close()
    }

    /// Runs `scripts/services rabbitmqctl` against this checkout's broker, with the test's environment (the
    /// port variables pick the private node).
    static func rabbitmqctl(_ arguments: [String]) throws -> String {
        let services = try TestEnvironment.variable("ROSTERSYNC_SERVICES")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: services)
        process.arguments = ["rabbitmqctl"] + arguments
        process.environment = ProcessInfo.processInfo.environment
        let output = Pipe()
        process.standardOutput = output
        // Both streams go to one pipe, read to the end before waiting, so a chatty error cannot block the child.
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw FixtureFailure(
                description: "rabbitmqctl \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)); "
                    + "are ROSTERSYNC_EPMD_PORT and ROSTERSYNC_RMQ_DIST_PORT exported like the broker's? \(text)")
        }
        return text
    }

    /// Closes, from the broker's side, the connection whose client end uses local port `port`. In 3.10
    /// `close_connection` takes the connection's Erlang pid, not its name.
    static func closeFromBroker(localPort port: Int) throws {
        let listing = try rabbitmqctl(["-s", "list_connections", "pid", "peer_port"])
        let pids = listing.split(separator: "\n").compactMap { line -> String? in
            let columns = line.split(separator: "\t")
            guard columns.count == 2, Int(columns[1]) == port else { return nil }
            return String(columns[0])
        }
        guard let pid = pids.first else {
            throw FixtureFailure(description: "no broker connection from local port \(port)")
        }
        _ = try rabbitmqctl(["close_connection", pid, "closed by a test"])
    }
}

/// A TCP port nobody listens on: bound once by us, then released.
func closedPort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            bind(descriptor, generic, length) == 0 ? getsockname(descriptor, generic, &length) : -1
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

struct FixtureFailure: Error, CustomStringConvertible {
    let description: String
}
