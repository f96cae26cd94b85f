// The RosterCore module.
