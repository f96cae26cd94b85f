import Foundation

/// How often and how patiently to reconnect.
public struct AMQPRetryPolicy: Sendable {
    /// Connect attempts per reconnect, the first included. Defaults to 5.
    public var maxAttempts: Int
    /// Seconds before the second attempt. Defaults to 0.2.
    public var initialDelay: TimeInterval
    /// Each later wait is the previous one times this. Defaults to 2.
    public var multiplier: Double
    /// The longest wait between attempts, in seconds. Defaults to 5.
    public var maxDelay: TimeInterval

    public init(
        maxAttempts: Int = 5, initialDelay: TimeInterval = 0.2, multiplier: Double = 2, maxDelay: TimeInterval = 5
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based).
    func delay(after attempt: Int) -> TimeInterval {
        min(maxDelay, initialDelay * pow(multiplier, Double(attempt - 1)))
    }
}

/// An `AMQPConnection` that comes back after the connection is lost.
///
/// On a connect or a lost connection it connects again with backoff, then runs `setup` on the new
/// connection, which declares the topology, enables confirms and restarts consumers, whatever this user
/// needs. Like `AMQPConnection` it is used from one thread at a time and is not `Sendable`.
///
/// Delivery tags die with their connection: after a reconnect (`generation` grows) the broker has requeued
/// every unacked delivery, so drop the work of the old ones or expect them again.
public final class AMQPReconnectingConnection {
    public let configuration: AMQPConfiguration
    public let policy: AMQPRetryPolicy
    private let setup: (AMQPConnection) throws -> Void
    private var current: AMQPConnection?
    /// How many connections were made so far; grows by one with each (re)connect.
    public private(set) var generation = 0

    /// Does not connect yet; the first `connection()` or `perform` does.
    ///
    /// - Parameters:
    ///   - policy: defaults to `AMQPRetryPolicy()`.
    ///   - setup: runs on every new connection before it is used.
    public init(
        configuration: AMQPConfiguration, policy: AMQPRetryPolicy = AMQPRetryPolicy(),
        setup: @escaping (AMQPConnection) throws -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.policy = policy
        self.setup = setup
    }

    /// The current connection, connected (with retries) and set up when there is none or it broke.
    ///
    /// - Throws: the last attempt's error when every attempt failed, or a non-transient error at once.
    public func connection() throws -> AMQPConnection {
        if let current, current.isOpen { return current }
        return try reconnect()
    }

    /// Drops the current connection and makes a new one, with backoff, then runs `setup` on it.
    @discardableResult
    public func reconnect() throws -> AMQPConnection {
        current?.close()
        current = nil
        var attempt = 1
        while true {
            do {
                let connection = try AMQPConnection(configuration: configuration)
                try setup(connection)
                current = connection
                generation += 1
                return connection
            } catch let error as AMQPError where error.isTransient && attempt < policy.maxAttempts {
                Thread.sleep(forTimeInterval: policy.delay(after: attempt))
                attempt += 1
            }
        }
    }

    /// Runs `body` on the connection; when the connection is lost during it, reconnects and, with `retry`,
    /// runs it once more on the new connection.
    ///
    /// Retry only what is safe to repeat: waiting for a delivery, declaring, a publish whose duplicate the
    /// consumer tolerates. Never an ack: its tag belonged to the lost connection.
    ///
    /// - Parameter retry: run `body` again after a reconnect. Defaults to true.
    public func perform<T>(retry: Bool = true, _ body: (AMQPConnection) throws -> T) throws -> T {
        let connection = try connection()
        do {
            return try body(connection)
        } catch let error as AMQPError where Self.needsReconnect(error, connection) {
            let fresh = try reconnect()
            guard retry else { throw error }
            return try body(fresh)
        }
    }

    /// Closes the current connection; the next call connects again.
    public func close() {
        current?.close()
        current = nil
    }

    private static func needsReconnect(_ error: AMQPError, _ connection: AMQPConnection) -> Bool {
        error.code == .connectionLost || error.code == .consumerCancelled || !connection.isOpen
    }
}
