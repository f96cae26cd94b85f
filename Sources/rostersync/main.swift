import Foundation
import RosterSupport

exit(Main.run(Array(CommandLine.arguments.dropFirst())))
