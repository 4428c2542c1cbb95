package sqlite

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockSuffix names the lock file of a database: a writer holds an
// exclusive lock on path + LockSuffix for as long as its DB is open.
const LockSuffix = "-lock"

// LockedError is returned by Open when another writer holds the
// database: another process, or another DB of this process. The holder's
// details are those it recorded in the lock file; PID is 0 when they
// could not be read.
type LockedError struct {
	// Path is the database file.
	Path string
	// PID is the holder's process id.
	PID int
	// Command is the holder's command line.
	Command string
	// Since is when the holder took the lock.
	Since time.Time
}

// Error implements error.
func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sqlite: database %s is in use by ", e.Path)
	if e.PID == 0 {
		b.WriteString("another process")
	} else {
		fmt.Fprintf(&b, "process %d", e.PID)
		if e.Command != "" {
			fmt.Fprintf(&b, " (%s)", e.Command)
		}
		if !e.Since.IsZero() {
			fmt.Fprintf(&b, " since %s", e.Since.Format(time.RFC3339))
		}
	}
	b.WriteString(": a SQLite database has one writer at a time; stop that process first (tools that only read may run beside it)")
	return b.String()
}

// fileLock is a writer's hold on a database's lock file.
type fileLock struct {
	f *os.File
}

// lockPath returns the lock file of the database at path. Symbolic links
// are resolved, as SQLite resolves them for its own -wal and -shm files,
// so that two spellings of one database share one lock.
func lockPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return path + LockSuffix
}

// holderWait bounds how long a refused Open waits for the holder to
// record itself: the holder writes its details right after it takes the
// lock, so an empty lock file means it is between the two.
const holderWait = 250 * time.Millisecond

// lock takes the writer lock of the database at path without waiting,
// and records this process in the lock file. It returns a *LockedError
// if another writer holds it.
func lock(path string) (*fileLock, error) {
	f, err := os.OpenFile(lockPath(path), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	if !ok {
		e := &LockedError{Path: path}
		deadline := time.Now().Add(holderWait)
		for {
			e.PID, e.Command, e.Since = readHolder(f)
			if e.PID != 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		f.Close()
		return nil, e
	}
	if err := writeHolder(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("sqlite: lock %s: record holder: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// release empties the lock file, so no later reader takes this process
// for the holder, and gives up the lock.
func (l *fileLock) release() error {
	if l == nil {
		return nil
	}
	terr := l.f.Truncate(0)
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("sqlite: unlock: %w", err)
	}
	if terr != nil {
		return fmt.Errorf("sqlite: unlock: %w", terr)
	}
	return nil
}

// maxCommand bounds the command line recorded in the lock file.
const maxCommand = 200

// writeHolder records this process in the lock file, in lines a person
// can read with cat:
//
//	pid: 12345
//	since: 2026-08-21T10:00:00Z
//	command: eventual serve --db ./eventual.db
func writeHolder(f *os.File) error {
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		if i == 0 {
			a = filepath.Base(a)
		}
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			a = strconv.Quote(a)
		}
		args[i] = a
	}
	command := strings.Join(args, " ")
	if len(command) > maxCommand {
		command = command[:maxCommand] + "…"
	}
	record := fmt.Sprintf("pid: %d\nsince: %s\ncommand: %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), command)
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(record), 0)
	return err
}

// readHolder reads what the holder recorded in the lock file; pid is 0 if
// nothing (yet) was.
func readHolder(f *os.File) (pid int, command string, since time.Time) {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	sc := bufio.NewScanner(bytes.NewReader(buf[:n]))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch key {
		case "pid":
			pid, _ = strconv.Atoi(value)
		case "command":
			command = value
		case "since":
			since, _ = time.Parse(time.RFC3339, value)
		}
	}
	return pid, command, since
}
