package sqlite

// Locking reports whether Open takes the writer lock on this system.
const Locking = locking
