import RosterSupport

enum OnboardingCommands {
    static let all: [Command] = []
}
