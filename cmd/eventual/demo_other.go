//go:build !linux

package main

import "syscall"

// childAttr starts a demo child in a process group of its own (so that a
// terminal's Ctrl-C reaches the demo alone, which stops its children in
// order). Only Linux can tie a child's life to the demo's: elsewhere a
// demo killed by SIGKILL leaves its children running.
func childAttr(bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
