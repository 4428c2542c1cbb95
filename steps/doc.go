// Package steps holds the built-in steps a configuration file can
// register without code: Require, which fails writes that leave listed
// columns empty, and SetValues, which sets columns on the target before
// the write. (Placeholders and webhooks have packages of their own.)
//
// It imports only the root package: steps see the execution context and
// know nothing of instance, stores or HTTP.
package steps
