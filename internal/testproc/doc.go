// Package testproc builds the eventual binary for a test package and runs
// "eventual serve" processes for its tests: started on a loopback port,
// ready once they print their base URL, stopped by pid (a cleanup kills
// any a test left running). Only tests import it.
package testproc
