import Foundation

/// Removes the password from a connection URL so it can be logged or shown.
public func redactedURL(_ url: String) -> String {
    guard var components = URLComponents(string: url), components.password != nil else { return url }
    components.password = "***"
    return components.string ?? url
}
