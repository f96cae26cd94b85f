// The Fleet module.
