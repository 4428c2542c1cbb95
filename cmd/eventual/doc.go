// Command eventual runs a Dataverse-compatible instance and, in later
// releases, the sync between instances. See "eventual help".
//
// Usage:
//
//	eventual <command> [flags]
//
// The commands are:
//
//	serve          run an instance that speaks the Dataverse Web API
//	placeholders   list or count the placeholders waiting for their real data
//	version        print the version
//
// "eventual <command> -h" prints a command's flags. The configuration file
// (-config) and the flags are read here and only here: this package opens
// the store (SQLite or PostgreSQL, by the -db value), builds the schema and
// the pipeline's steps, and hands them to instance and webapi. It is the
// only package outside the tests that imports both stores, and nothing
// imports it.
package main
