import CleverClient

/// Lets a sync tell a transient Clever failure (timeouts, 5xx, rate limits) from a permanent one, so the
/// fleet can retry only the former.
extension CleverError: TransientReporting {}
