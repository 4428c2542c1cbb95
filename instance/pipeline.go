package instance

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file runs messages through the event pipeline: PreValidation
// outside the transaction for a top-level operation (inside it for a
// nested one), then in the transaction PreOperation, the main operation,
// synchronous PostOperation steps and the queueing of asynchronous ones.

// DefaultMaxDepth is Dataverse's loop guard: an operation nested deeper
// than this through steps is stopped as a runaway chain.
const DefaultMaxDepth = 8

type ctxKey int

const parentKey ctxKey = iota

func parentOf(ctx context.Context) *eventual.ExecutionContext {
	p, _ := ctx.Value(parentKey).(*eventual.ExecutionContext)
	return p
}

func (in *Instance) maxDepth() int {
	if in.MaxDepth > 0 {
		return in.MaxDepth
	}
	return DefaultMaxDepth
}

// execution is one message running through the pipeline.
type execution struct {
	in  *Instance
	ec  *eventual.ExecutionContext
	tbl *eventual.Table
	// pre is the record before the operation (pre-images).
	pre *eventual.Record
	// ref names the record an Update, Upsert or Delete writes, to read
	// pre-images before the main operation.
	ref eventual.EntityReference
	// preRead reports that pre was looked for (nil: no record yet), and
	// preOutside that it was outside the transaction.
	preRead, preOutside bool
	// queued reports that asynchronous steps were queued.
	queued bool
	// deferred holds the placeholders PreValidation asked for, which
	// runWrite makes in the write's transaction (see placeholders.go).
	deferred []deferredPlaceholders
	// lookups is the write's lookup cache: the enclosing write's, or the
	// records resolveDeferred found or made. The messages its steps run
	// in the transaction resolve through it too.
	lookups lookupCache
}

// newExecution prepares a message's context. A message started by a step
// (through Service) is one level deeper than the step's; a message the
// platform runs inside another (the Create or Update of an Upsert, the
// records of a deep insert) keeps its parent's depth.
func (in *Instance) newExecution(ctx context.Context, message string, t *eventual.Table, target any, platform bool) (*execution, error) {
	parent := parentOf(ctx)
	now := in.now()
	ec := &eventual.ExecutionContext{
		MessageName: message, PrimaryEntityName: t.LogicalName, Depth: 1,
		OperationID: uuid.New(), RequestID: uuid.New(), OperationCreatedOn: now,
		UserID: in.Meta.UserID, InitiatingUserID: in.Meta.UserID, BusinessUnitID: in.Meta.BusinessUnitID, OrganizationID: in.Meta.OrganizationID,
		InputParameters: map[string]any{"Target": target}, OutputParameters: map[string]any{}, SharedVariables: map[string]any{},
	}
	if id, ok := eventual.CorrelationID(ctx); ok {
		ec.CorrelationID = id
	} else {
		ec.CorrelationID = uuid.New()
	}
	if c, ok := eventual.CallerFrom(ctx); ok {
		ec.UserID, ec.InitiatingUserID = c.UserID, c.UserID
	}
	switch x := target.(type) {
	case *eventual.Entity:
		ec.PrimaryEntityID = x.ID
	case eventual.EntityReference:
		ec.PrimaryEntityID = x.ID
	}
	if parent != nil {
		ec.ParentContext = parent
		ec.CorrelationID = parent.CorrelationID
		ec.RequestID = parent.RequestID
		ec.Depth = parent.Depth
		if !platform {
			ec.Depth++
		}
	}
	if ec.Depth > in.maxDepth() {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodePluginFailed,
			"This operation was stopped because the steps that started it form an infinite loop: it reached depth %d (the limit is %d).", ec.Depth, in.maxDepth())
	}
	return &execution{in: in, ec: ec, tbl: t}, nil
}

// stepsFor returns the steps of the execution's message at a stage.
func (x *execution) stepsFor(stage eventual.Stage, mode eventual.Mode) []*eventual.Step {
	return x.in.Pipeline.Steps(x.ec.MessageName, x.tbl.LogicalName, stage, mode)
}

// applies reports whether a step runs for this execution: filtering
// attributes limit Update steps to updates that set one of them.
func (x *execution) applies(s *eventual.Step) bool {
	if len(s.FilteringAttributes) == 0 {
		return true
	}
	e := x.ec.Target()
	if e == nil {
		return false
	}
	for _, a := range s.FilteringAttributes {
		if _, ok := e.Values[a]; ok {
			return true
		}
	}
	return false
}

// runStage runs the synchronous steps of a stage. tx is nil outside a
// transaction. A step's error becomes Dataverse's plug-in error.
func (x *execution) runStage(ctx context.Context, stage eventual.Stage, tx eventual.Tx) error {
	steps := x.stepsFor(stage, eventual.Synchronous)
	if len(steps) == 0 {
		return nil
	}
	ec := x.ec
	ec.Stage, ec.Mode, ec.IsInTransaction = stage, eventual.Synchronous, tx != nil
	var post *eventual.Record
	for i, s := range steps {
		if !x.applies(s) {
			continue
		}
		ec.Step = s
		ec.Service = &service{in: x.in, tx: tx, x: x, lookups: x.lookups, deferrable: stage == eventual.PreValidation && tx == nil && x.alone(s, steps[i+1:])}
		if len(s.Images) > 0 {
			if stage == eventual.PostOperation && post == nil && ec.PrimaryEntityID != uuid.Nil && ec.MessageName != eventual.MessageDelete && tx != nil {
				if r, err := tx.Get(ctx, x.tbl, ec.PrimaryEntityID, nil); err == nil {
					post = r
				}
			}
			if err := x.loadPre(ctx, tx, s); err != nil {
				return err
			}
		}
		// Every step gets its own images (empty maps when it asked none).
		ec.PreEntityImages, ec.PostEntityImages = images(s, eventual.PreImage, x.pre), images(s, eventual.PostImage, post)
		if err := execute(ctx, s, ec); err != nil {
			return pluginError(s, err)
		}
	}
	ec.Step, ec.Service = nil, nil
	return nil
}

// execute runs a step; a panic fails the step like an error.
func execute(ctx context.Context, s *eventual.Step, ec *eventual.ExecutionContext) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the step panicked: %v", p)
		}
	}()
	return s.Plugin.Execute(context.WithValue(ctx, parentKey, ec), ec)
}

// loadPre reads the record a write changes, for pre-images asked for
// before the main operation reads it (PreValidation, PreOperation, and
// every stage of an Upsert). A record that does not exist yet has none.
func (x *execution) loadPre(ctx context.Context, tx eventual.Tx, steps ...*eventual.Step) error {
	if ((x.pre != nil || x.preRead) && !(x.preOutside && tx != nil)) || x.ref.Table == nil {
		return nil
	}
	want := false
	for _, s := range steps {
		want = want || slices.ContainsFunc(s.Images, func(i eventual.Image) bool { return i.Kind == eventual.PreImage })
	}
	if !want {
		return nil
	}
	read := func(tx eventual.ReadTx) error {
		rec, err := x.in.find(ctx, tx, x.ref, nil)
		if eventual.ErrorKind(err) == eventual.KindNotFound {
			return nil
		}
		x.pre = rec
		return err
	}
	// A record read outside the transaction is read again inside it.
	x.pre, x.preRead, x.preOutside = nil, true, tx == nil
	if tx != nil {
		return read(tx)
	}
	return x.in.Store.View(ctx, read)
}

// loadPreAll reads the pre-image record when any step of the message asks
// for one (the Upsert, whose main operation does not read it for them).
func (x *execution) loadPreAll(ctx context.Context, tx eventual.Tx) error {
	var all []*eventual.Step
	for _, st := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
		all = append(all, x.stepsFor(st, eventual.Synchronous)...)
		all = append(all, x.stepsFor(st, eventual.Asynchronous)...)
	}
	return x.loadPre(ctx, tx, all...)
}

// images builds a step's images of one kind from a record.
func images(s *eventual.Step, kind eventual.ImageKind, rec *eventual.Record) map[string]*eventual.Record {
	out := map[string]*eventual.Record{}
	if rec == nil {
		return out
	}
	for _, img := range s.Images {
		if img.Kind != kind {
			continue
		}
		cp := &eventual.Record{Table: rec.Table, ID: rec.ID, Version: rec.Version, Values: eventual.Values{}}
		for k, v := range rec.Values {
			if img.Columns == nil || slices.Contains(img.Columns, k) {
				cp.Values[k] = v
			}
		}
		out[img.Alias] = cp
	}
	return out
}

// pluginError turns a step's failure into the error a caller sees: 400
// with code 0x80040265 and the step's message.
func pluginError(s *eventual.Step, err error) error {
	var pe *eventual.PluginError
	if errors.As(err, &pe) {
		return &eventual.Error{Kind: eventual.KindInvalid, Code: eventual.CodePluginFailed, Message: pe.Message, Err: err}
	}
	var ae *eventual.Error
	if errors.As(err, &ae) && ae.Code == eventual.CodePluginFailed {
		return err
	}
	return &eventual.Error{Kind: eventual.KindInvalid, Code: eventual.CodePluginFailed,
		Message: fmt.Sprintf("The step %q failed: %s", s.Name, eventual.ErrorMessage(err)), Err: err}
}

// inTransaction runs the stages inside the transaction around the main
// operation, and queues the asynchronous steps.
func (x *execution) inTransaction(ctx context.Context, tx eventual.Tx, main func(ctx context.Context) error) error {
	if err := x.runStage(ctx, eventual.PreOperation, tx); err != nil {
		return err
	}
	x.ec.Stage = eventual.MainOperation // what messages run inside this one see
	if err := main(context.WithValue(ctx, parentKey, x.ec)); err != nil {
		return err
	}
	if err := x.runStage(ctx, eventual.PostOperation, tx); err != nil {
		return err
	}
	return x.queue(ctx, tx)
}

// runWrite runs a write message. tx nil makes it a top-level operation:
// PreValidation outside any transaction, the rest in a new one; with tx,
// everything runs in tx. lookups are the enclosing write's (see
// lookupCache); main gets them, or those of the deferred placeholders.
func (x *execution) runWrite(ctx context.Context, tx eventual.Tx, lookups lookupCache, main func(ctx context.Context, tx eventual.Tx, lookups lookupCache) error) error {
	x.lookups = lookups
	if err := x.runStage(ctx, eventual.PreValidation, tx); err != nil {
		return err
	}
	if tx != nil {
		return x.inTransaction(ctx, tx, func(ctx context.Context) error { return main(ctx, tx, lookups) })
	}
	err := x.in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		lookups := lookups
		if len(x.deferred) > 0 {
			cache, err := x.resolveDeferred(ctx, tx)
			if err != nil {
				return err
			}
			lookups = cache
		}
		x.lookups = lookups
		return x.inTransaction(ctx, tx, func(ctx context.Context) error { return main(ctx, tx, lookups) })
	})
	if err != nil && len(x.deferred) > 0 {
		// The write failed, and its placeholders with it: make them in
		// their own transaction, as PreValidation would have, since they
		// outlive a failed write.
		if perr := x.ensureDeferred(ctx); perr != nil {
			x.in.logger().Warn("placeholders of a failed write", "err", perr)
		}
	}
	if err == nil {
		x.in.notifyJobs() // jobs this write or its nested messages queued
	}
	return err
}

// service is what steps call: operations one level deeper, in the step's
// transaction when it has one, in their own otherwise.
type service struct {
	in *Instance
	tx eventual.Tx
	// x is the execution of the calling step; deferrable lets
	// EnsurePlaceholders defer its work to x (see runWrite).
	x          *execution
	deferrable bool
	// lookups are the write's resolved records, for the messages the
	// step runs in tx.
	lookups lookupCache
}

var _ eventual.Service = (*service)(nil)

func (s *service) Create(ctx context.Context, e *eventual.Entity) (uuid.UUID, error) {
	if s.tx != nil {
		return s.in.createMessage(ctx, s.tx, e, false, s.lookups)
	}
	return s.in.Create(ctx, e)
}

func (s *service) Update(ctx context.Context, target eventual.EntityReference, values eventual.Values) error {
	if s.tx != nil {
		_, err := s.in.updateMessage(ctx, s.tx, target, &eventual.Entity{Table: target.Table, Values: values}, eventual.Condition{IfMatch: "*"}, false, s.lookups)
		return err
	}
	_, err := s.in.Update(ctx, target, values, eventual.Condition{})
	return err
}

func (s *service) Upsert(ctx context.Context, target eventual.EntityReference, e *eventual.Entity) (bool, uuid.UUID, error) {
	if s.tx != nil {
		return s.in.upsertMessage(ctx, s.tx, target, e, eventual.Condition{}, false, s.lookups)
	}
	return s.in.Upsert(ctx, target, e, eventual.Condition{})
}

func (s *service) Delete(ctx context.Context, target eventual.EntityReference) error {
	if s.tx != nil {
		return s.in.deleteMessage(ctx, s.tx, target, eventual.Condition{}, false, s.lookups)
	}
	return s.in.Delete(ctx, target, eventual.Condition{})
}

func (s *service) Retrieve(ctx context.Context, target eventual.EntityReference, columns []*eventual.Column) (*eventual.Record, error) {
	if s.tx != nil {
		return s.in.find(ctx, s.tx, target, columns)
	}
	return s.in.Retrieve(ctx, target, columns, nil, "")
}

// notifyJobs wakes the job runner.
func (in *Instance) notifyJobs() {
	in.jobsOnce.Do(in.initJobs)
	select {
	case in.jobsWake <- struct{}{}:
	default:
	}
}
