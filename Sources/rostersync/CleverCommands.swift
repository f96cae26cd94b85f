import RosterSupport

enum CleverCommands {
    static let all: [Command] = []
}
