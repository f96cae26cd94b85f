import Foundation
import RosterSupport

/// One command of the `rostersync` executable, such as `runs show`.
struct Command: Sendable {
    /// The words that name it: `["runs", "show"]`.
    let path: [String]
    let usage: String
    let summary: String
    /// Flags that take no value.
    var booleanFlags: Set<String> = []
    /// Reads its flags from `arguments`, calls `arguments.finish()`, then acts. Returns the exit status.
    let run: @Sendable (inout Arguments, Logger) throws -> Int32
}

enum Main {
    static var commands: [Command] {
        CleverCommands.all + StoreCommands.all + FleetCommands.all + OnboardingCommands.all
    }

    static func run(_ words: [String]) -> Int32 {
        if words.isEmpty || words == ["help"] || words == ["--help"] {
            printHelp()
            return words.isEmpty ? 2 : 0
        }
        let matching = commands.filter { words.starts(with: $0.path) }
        guard let command = matching.max(by: { $0.path.count < $1.path.count }) else {
            FileHandle.standardError.write(
                Data("rostersync: unknown command '\(words.joined(separator: " "))'; try rostersync help\n".utf8))
            return 2
        }
        let rest = Array(words.dropFirst(command.path.count))
        if rest.contains("--help") {
            print("usage: rostersync \(command.usage)\n\n\(command.summary)")
            return 0
        }
        do {
            var arguments = try Arguments(rest, booleanFlags: command.booleanFlags)
            let logger = try makeLogger(&arguments)
            return try command.run(&arguments, logger)
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("rostersync: \(error)\nusage: rostersync \(command.usage)\n".utf8))
            return 2
        } catch {
            // 42P01, undefined table: the usual first mistake, pointing at a database nobody migrated.
            let hint =
                "\(error)".contains("[42P01]")
                ? "\nrostersync: the database has no rostersync tables yet; run rostersync migrate first" : ""
            FileHandle.standardError.write(Data("rostersync: \(error)\(hint)\n".utf8))
            return 1
        }
    }

    /// `--log-level` (default `info`, or `ROSTERSYNC_LOG_LEVEL`) and `--log-format text|json`
    /// (default `text`, or `ROSTERSYNC_LOG_FORMAT`), which every command accepts.
    static func makeLogger(_ arguments: inout Arguments) throws -> Logger {
        let levelName = arguments.string("log-level", env: "ROSTERSYNC_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(name: levelName) else {
            throw UsageError("--log-level takes trace, debug, info, notice, warning, error or critical")
        }
        let formatName = arguments.string("log-format", env: "ROSTERSYNC_LOG_FORMAT") ?? "text"
        guard let format = Logger.Format(rawValue: formatName) else {
            throw UsageError("--log-format takes text or json")
        }
        return Logger(label: "rostersync", level: level, format: format)
    }

    static func printHelp() {
        print("usage: rostersync COMMAND [options]   (rostersync COMMAND --help for its options)\n")
        for command in commands {
            let name = command.path.joined(separator: " ")
            print("  " + name.padding(toLength: 22, withPad: " ", startingAt: 0) + command.summary)
        }
    }
}
