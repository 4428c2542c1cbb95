//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package sqlite

import "os"

// locking reports whether Open takes the writer lock on this system.
const locking = false

// tryLock does not lock: this system has no flock (Windows, Solaris,
// illumos, AIX, Plan 9, js/wasm). The lock file still records the last
// writer, but two writers on one database are not refused here; run one
// "eventual serve" per database yourself.
func tryLock(f *os.File) (bool, error) { return true, nil }
