import Foundation

/// The nightly window: one firing per local calendar day at a wall-clock time in a named time zone.
///
/// Each firing is named by its slot, the local date it belongs to, so that whoever fires it can record
/// the slot and nobody fires it twice, across restarts and across several coordinators. The wall-clock
/// time is resolved in the zone for each date, so the days clocks change still fire once, at 21:00
/// local, neither skipped nor doubled. (A time inside a skipped hour, such as 02:30 on the spring-forward
/// day, fires at the first valid instant after it.)
public struct NightlySchedule: Sendable, Equatable {
    public var timeZone: TimeZone
    public var hour: Int
    public var minute: Int
    /// How long after a slot's time a coordinator that missed it (down, restarting) still fires it.
    /// Defaults to 6 hours: a run that starts later would collide with the school day.
    public var catchUp: TimeInterval

    /// The production schedule: 21:00 America/Los_Angeles, catching up for 6 hours.
    public static let pacificNine = NightlySchedule(
        timeZone: TimeZone(identifier: "America/Los_Angeles")!, hour: 21, minute: 0, catchUp: 6 * 3600)

    public init(timeZone: TimeZone, hour: Int, minute: Int, catchUp: TimeInterval) {
        self.timeZone = timeZone
        self.hour = hour
        self.minute = minute
        self.catchUp = catchUp
    }

    /// A firing: the local date it belongs to (`2026-03-08`) and the instant it is due.
    public struct Slot: Sendable, Equatable, CustomStringConvertible {
        public let localDate: String
        public let due: Date

        public var description: String { localDate }
    }

    private var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The slot of the local day that contains `instant`.
    public func slot(onDayOf instant: Date) -> Slot {
        let calendar = self.calendar
        let day = calendar.dateComponents([.year, .month, .day], from: instant)
        var wanted = day
        wanted.hour = hour
        wanted.minute = minute
        wanted.second = 0
        let due =
            calendar.date(from: wanted)
            ?? calendar.nextDate(
                after: calendar.startOfDay(for: instant),
                matching: DateComponents(hour: hour, minute: minute, second: 0),
                matchingPolicy: .nextTime)!
        let text = String(format: "%04d-%02d-%02d", day.year!, day.month!, day.day!)
        return Slot(localDate: text, due: due)
    }

    /// The most recent slot whose time has come at `now`.
    public func latestSlot(atOrBefore now: Date) -> Slot {
        let today = slot(onDayOf: now)
        if today.due <= now { return today }
        let yesterday = calendar.date(byAdding: .day, value: -1, to: today.due)!
        return slot(onDayOf: yesterday)
    }

    /// The next slot strictly after `now`.
    public func nextSlot(after now: Date) -> Slot {
        let today = slot(onDayOf: now)
        if today.due > now { return today }
        // Noon of the next local day is always a valid instant, whatever the clocks do that night.
        let tomorrow = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: now))!
        return slot(onDayOf: tomorrow.addingTimeInterval(12 * 3600))
    }

    /// The slot to fire at `now`, if any: the latest due slot, when it is still within the catch-up
    /// window and not among those already fired.
    public func slotToFire(at now: Date, alreadyFired: Set<String>) -> Slot? {
        let slot = latestSlot(atOrBefore: now)
        guard now.timeIntervalSince(slot.due) <= catchUp, !alreadyFired.contains(slot.localDate) else { return nil }
        return slot
    }
}
