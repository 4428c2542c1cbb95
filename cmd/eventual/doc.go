// Command eventual runs a Dataverse-compatible instance, the sync between
// two instances, and a demo of the whole pattern. See "eventual help".
//
// Usage:
//
//	eventual <command> [flags]
//
// The commands are:
//
//	serve          run an instance that speaks the Dataverse Web API
//	sync           replicate tables from one instance to another, hydrating placeholders
//	demo           play the pattern's journeys on child instances and check the invariants
//	placeholders   list or count the placeholders waiting for their real data
//	config check   validate a serve or sync configuration and print it as it would be used
//	version        print the version
//
// "eventual <command> -h" prints a command's purpose, flags and examples on
// standard output. Exit codes: 0 done, 1 the command failed, 2 the command
// line is wrong (usageError), 3 the configuration is wrong (configError). The configuration file
// (-config) and the flags are read here and only here: this package opens
// the store (SQLite or PostgreSQL, by the -db value), builds the schema and
// the pipeline's steps, and hands them to instance and webapi. It is the
// only package outside the tests that imports both stores, and nothing
// imports it. The files: serve.go and config.go (serve), sync*.go (sync,
// its configuration, progress and status), demo*.go (demo: the child
// processes, the journeys, the integrated system's client, the Hydrate
// step's endpoint), placeholders.go, version.go, configcheck.go (config
// check: the effective configuration, secrets masked), pipeline.go (the
// steps from the configuration). readme_test.go runs the README's shell
// commands against live processes.
package main
