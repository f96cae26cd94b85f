// The CleverClient module.
