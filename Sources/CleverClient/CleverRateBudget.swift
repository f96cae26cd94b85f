import Foundation
import HTTPClient

/// The request budget of one token, shared by all of the token's threads.
///
/// Two limits apply. Our own count keeps to `requestsPerMinute` in each minute-long window, so a fetch
/// does not walk into 429s. Clever's `X-RateLimit-Remaining` and `X-RateLimit-Reset` (a Unix time)
/// win when they say less: at 0 remaining, every thread pauses until the reset, and a 429 pauses them
/// all the same way.
final class CleverRateBudget: @unchecked Sendable {
    private let lock = NSLock()
    private let requestsPerMinute: Int
    private var windowStart = Date.distantPast
    private var windowCount = 0
    private var pausedUntil = Date.distantPast

    init(requestsPerMinute: Int) {
        self.requestsPerMinute = requestsPerMinute
    }

    /// Takes one request from the budget, sleeping through `run` until there is one.
    func acquire(_ run: CleverFetchRun?) throws {
        while true {
            let wait = reserve(now: Date())
            guard let wait else { return }
            if let run {
                try run.sleep(until: wait)
            } else {
                Thread.sleep(until: wait)
            }
        }
    }

    /// Counts a request and returns nil, or returns when to try again.
    private func reserve(now: Date) -> Date? {
        lock.lock()
        defer { lock.unlock() }
        if now < pausedUntil { return pausedUntil }
        if now.timeIntervalSince(windowStart) >= 60 {
            windowStart = now
            windowCount = 0
        }
        guard windowCount < requestsPerMinute else { return windowStart.addingTimeInterval(60) }
        windowCount += 1
        return nil
    }

    /// Reads Clever's rate headers from an answer.
    func observe(_ headers: HTTPHeaders) {
        guard let remaining = headers["X-RateLimit-Remaining"].flatMap({ Int($0) }), remaining <= 0 else { return }
        pause(until: CleverRateBudget.resetDate(headers, fallback: 1))
    }

    /// Stops every thread of the token until `date` (at most a minute and a second away).
    func pause(until date: Date) {
        let capped = min(date, Date().addingTimeInterval(61))
        lock.lock()
        if capped > pausedUntil { pausedUntil = capped }
        lock.unlock()
    }

    /// When the budget comes back: the later of `X-RateLimit-Reset` and `Retry-After` seconds from now,
    /// else `fallback` seconds from now.
    static func resetDate(_ headers: HTTPHeaders, fallback: Double) -> Date {
        let reset = headers["X-RateLimit-Reset"].flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }
        let retryAfter = headers["Retry-After"].flatMap { Double($0) }.map { Date().addingTimeInterval($0) }
        switch (reset, retryAfter) {
        case (let reset?, let retryAfter?): return max(reset, retryAfter)
        case (let reset?, nil): return reset
        case (nil, let retryAfter?): return retryAfter
        case (nil, nil): return Date().addingTimeInterval(fallback)
        }
    }
}
