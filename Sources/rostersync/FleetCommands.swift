import RosterSupport

enum FleetCommands {
    static let all: [Command] = []
}
