//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// locking reports whether Open takes the writer lock on this system.
const locking = true

// tryLock takes an exclusive flock on f without waiting and reports
// whether it got it. flock locks belong to the open file description, so
// a second open of the lock file conflicts even inside one process, and
// the kernel drops the lock when the process ends, however it ends.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		}
		return false, err
	}
}
