import Dispatch
import Foundation

/// Turns SIGTERM and SIGINT into a flag that long-running loops poll, so they can stop gracefully.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var sources: [DispatchSourceSignal] = []
    private var handlers: [@Sendable () -> Void] = []

    public init() {}

    /// Starts listening for SIGTERM and SIGINT.
    public func install() {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.stop() }
            source.resume()
            sources.append(source)
        }
    }

    public var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Asks everything that watches this signal to stop. Safe to call more than once.
    public func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let toCall = handlers
        lock.unlock()
        if !wasStopped { toCall.forEach { $0() } }
    }

    /// Runs `handler` once when a stop is asked for (at once if it already was).
    public func onStop(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        if stopped {
            lock.unlock()
            handler()
            return
        }
        handlers.append(handler)
        lock.unlock()
    }

    /// Sleeps up to `seconds`, waking early when a stop is asked for.
    /// - Returns: true when the sleep ended because of a stop.
    @discardableResult
    public func sleep(_ seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if isStopped { return true }
            Thread.sleep(forTimeInterval: min(0.1, max(0, deadline.timeIntervalSinceNow)))
        }
        return isStopped
    }
}
