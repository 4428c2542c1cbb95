package main

import "syscall"

// childAttr starts a demo child in a process group of its own (so that a
// terminal's Ctrl-C reaches the demo alone, which stops its children in
// order) and, unless they are to outlive the demo, has the kernel send it
// SIGTERM when the demo dies: a demo killed by SIGKILL or by its terminal
// closing leaves no server behind.
func childAttr(keep bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if !keep {
		a.Pdeathsig = syscall.SIGTERM
	}
	return a
}
