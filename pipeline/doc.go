// Package pipeline registers the steps of the event pipeline: which plugin
// runs for which message of which table, at which stage and mode, in which
// order. The instance package runs the registered steps around every
// message; programs that embed eventual register their own Go steps here.
// Kinds (kind.go) is the registry of the step types a configuration file
// names, each of which builds its steps' plugins.
//
// It imports only the root package: it neither runs steps nor knows
// stores or HTTP.
package pipeline
