// Package placeholder is the eventual-consistency pattern's step: when a
// write binds a lookup to a record that does not exist yet (sync has not
// delivered it), the step creates a placeholder with that GUID or
// alternate key, so the write succeeds; a later write with the real data
// hydrates the placeholder and fires the Hydrate message.
//
// The step runs at PreValidation by default, outside the write's
// transaction, so the placeholder stays even if the write then fails (the
// source article's choice); at PreOperation it runs inside the
// transaction and rolls back with a failing write. When no other
// synchronous step of the write could look for the record, the instance
// folds a PreValidation check into the write: the write's transaction
// finds the record or makes the placeholder, and a write that fails makes
// its placeholders in a transaction of their own, with the same results
// (README, "Known differences from Dataverse").
//
// It imports only the root package: it asks the execution context's
// Service for placeholders (EnsurePlaceholders) and knows nothing of
// instance, stores or HTTP.
package placeholder
