// Package testrun runs the background work of tests: load that goes on
// while a test checks something, until the test stops it. Only tests
// import it.
package testrun
