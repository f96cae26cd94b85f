import RosterSupport

enum StoreCommands {
    static let all: [Command] = []
}
