// Package metadata defines the schemas an instance serves: the built-in
// schema, with Dataverse's real logical names for account and contact plus
// a custom order table, and the schema section of a configuration file
// (SchemaConfig), whose tables extend or replace it.
//
// It imports only the root package: cmd/eventual reads the YAML, and the
// stores and the Web API receive the resulting eventual.Schema.
package metadata
