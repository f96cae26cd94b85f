// The RosterStore module.
