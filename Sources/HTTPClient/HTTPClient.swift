// The HTTPClient module.
