package eventual

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// This file holds the vocabulary of the event pipeline: the stages and
// modes of steps, the execution context a step sees, and the interfaces a
// step implements and calls. The pipeline package registers steps; the
// instance package runs them around every message.

// Stage is a stage of the event pipeline.
type Stage int

// Pipeline stages, with Dataverse's values.
const (
	// PreValidation runs before the database transaction for a top-level
	// operation (inside the caller's transaction for a nested one).
	PreValidation Stage = 10
	// PreOperation runs inside the transaction, before the main operation.
	PreOperation Stage = 20
	// MainOperation is the core operation itself; no step registers
	// there, but a message run inside another sees its parent at it.
	MainOperation Stage = 30
	// PostOperation runs inside the transaction after the main operation
	// (synchronous steps), or after the commit from the job queue
	// (asynchronous steps).
	PostOperation Stage = 40
)

// String returns the stage's name.
func (s Stage) String() string {
	switch s {
	case PreValidation:
		return "PreValidation"
	case PreOperation:
		return "PreOperation"
	case MainOperation:
		return "MainOperation"
	case PostOperation:
		return "PostOperation"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Mode is how a step runs: synchronously in the operation, or later from
// the job queue.
type Mode int

// Step modes, with Dataverse's values.
const (
	Synchronous  Mode = 0
	Asynchronous Mode = 1
)

// Message names the pipeline runs.
const (
	MessageCreate           = "Create"
	MessageUpdate           = "Update"
	MessageUpsert           = "Upsert"
	MessageDelete           = "Delete"
	MessageRetrieve         = "Retrieve"
	MessageRetrieveMultiple = "RetrieveMultiple"
	// MessageHydrate runs once when a write brings real data to a
	// placeholder: register there the logic that must not run on a
	// half-empty record, instead of on Create.
	MessageHydrate = "Hydrate"
)

// Messages lists the messages steps may register on.
var Messages = []string{MessageCreate, MessageUpdate, MessageUpsert, MessageDelete, MessageRetrieve, MessageRetrieveMultiple, MessageHydrate}

// ImageKind tells pre-images from post-images.
type ImageKind int

// Image kinds.
const (
	PreImage ImageKind = iota
	PostImage
)

// Image asks for a snapshot of the record before (pre) or after (post) the
// operation, under an alias.
type Image struct {
	Alias   string
	Kind    ImageKind
	Columns []string // nil: all columns
}

// Plugin is the logic of a step.
type Plugin interface {
	// Execute runs the step. An error fails the operation: a synchronous
	// step's error rolls back everything in the transaction and reaches
	// the caller as Dataverse's plug-in error (400, 0x80040265); an
	// asynchronous step's error is retried, then recorded on its job.
	Execute(ctx context.Context, ec *ExecutionContext) error
}

// BulkPlugin is a plugin that can run once for all the records of a bulk
// message (CreateMultiple, UpsertMultiple) instead of once per record,
// keeping bulk writes set-wise. The built-in placeholder step is one.
// Steps whose plugins are not BulkPlugins make bulk messages run record
// by record.
type BulkPlugin interface {
	Plugin
	// ExecuteMany runs the step for the targets of a bulk message, inside
	// its transaction.
	ExecuteMany(ctx context.Context, ec *ExecutionContext, targets []*Entity) error
}

// PluginFunc adapts a function to Plugin.
type PluginFunc func(ctx context.Context, ec *ExecutionContext) error

// Execute calls f.
func (f PluginFunc) Execute(ctx context.Context, ec *ExecutionContext) error { return f(ctx, ec) }

// Step is a registration of a plugin: which message of which table, at
// which stage and mode, in which order.
type Step struct {
	// Name identifies the step; it must be unique.
	Name string
	// Message is one of Messages.
	Message string
	// Table is the logical name of the table; empty for all tables.
	Table string
	// Stage and Mode place the step. Asynchronous steps are PostOperation
	// only.
	Stage Stage
	Mode  Mode
	// Rank orders steps of one stage (lowest first); steps of equal rank
	// run in registration order.
	Rank int
	// FilteringAttributes limits an Update step to updates that set one of
	// these columns.
	FilteringAttributes []string
	// Images are the record snapshots the step receives.
	Images []Image
	// Configuration is passed to the step in the context.
	Configuration string
	// Plugin is the step's logic.
	Plugin Plugin
}

// ExecutionContext is what a step sees of the operation it runs in, after
// Dataverse's IPluginExecutionContext.
type ExecutionContext struct {
	MessageName       string
	PrimaryEntityName string
	PrimaryEntityID   uuid.UUID
	Stage             Stage
	Mode              Mode
	// Depth is 1 for an operation a client asked for and grows by one for
	// each operation a step performs through Service.
	Depth int
	// CorrelationID is shared by every operation a request causes.
	CorrelationID uuid.UUID
	// OperationID identifies this message execution; RequestID the client
	// request.
	OperationID        uuid.UUID
	RequestID          uuid.UUID
	OperationCreatedOn time.Time
	UserID             uuid.UUID
	InitiatingUserID   uuid.UUID
	BusinessUnitID     uuid.UUID
	OrganizationID     uuid.UUID
	IsInTransaction    bool
	// InputParameters holds "Target": the *Entity written (Create, Update,
	// Upsert, Hydrate) or the EntityReference (Delete, Retrieve), and
	// "ColumnSet" or "Query" for reads. Steps before the main operation
	// may change the Target's values.
	InputParameters map[string]any
	// OutputParameters holds results after the main operation: "id"
	// (Create), "RecordCreated" (Upsert), "BusinessEntity" (Retrieve),
	// "BusinessEntityCollection" (RetrieveMultiple).
	OutputParameters map[string]any
	// SharedVariables passes data between the steps of one operation.
	SharedVariables map[string]any
	// ParentContext is the context of the operation this one runs inside
	// (the Upsert around a Create, or the operation whose step called
	// Service).
	ParentContext    *ExecutionContext
	PreEntityImages  map[string]*Record
	PostEntityImages map[string]*Record
	// Step is the registration being executed.
	Step *Step
	// Service performs operations on behalf of the step, one level
	// deeper, inside the step's transaction when it has one.
	Service Service
}

// Target returns the entity a write message carries, or nil.
func (ec *ExecutionContext) Target() *Entity {
	e, _ := ec.InputParameters["Target"].(*Entity)
	return e
}

// Service is what steps call to read and write records.
type Service interface {
	Create(ctx context.Context, e *Entity) (uuid.UUID, error)
	Update(ctx context.Context, target EntityReference, values Values) error
	Upsert(ctx context.Context, target EntityReference, e *Entity) (created bool, id uuid.UUID, err error)
	Delete(ctx context.Context, target EntityReference) error
	Retrieve(ctx context.Context, target EntityReference, columns []*Column) (*Record, error)
	// EnsurePlaceholder makes sure a record exists with the reference's
	// key: if one exists nothing about it changes; if not, it is created
	// with the key and values and marked as a placeholder. Concurrent
	// calls for one key yield one record. It reports whether it created.
	EnsurePlaceholder(ctx context.Context, ref EntityReference, values Values) (bool, error)
	// EnsurePlaceholders does EnsurePlaceholder for many references at
	// once (values[i] for refs[i]), reading and writing set-wise.
	EnsurePlaceholders(ctx context.Context, refs []EntityReference, values []Values) error
}

// PluginError is the error a step returns to fail an operation with a
// message for the caller (Dataverse's InvalidPluginExecutionException).
type PluginError struct {
	Message string
}

// Error implements error.
func (e *PluginError) Error() string { return e.Message }
