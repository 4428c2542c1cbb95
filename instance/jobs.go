package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file is the job queue of asynchronous steps: a step queued inside
// the operation's transaction is a record of the asyncoperation table
// (Dataverse's system jobs, queryable as asyncoperations), and a runner
// executes it after the commit. Each job runs once: a runner claims it by
// updating it with its row version as a condition, so of several runners
// (several servers on one database) one wins. A failing job is retried up
// to MaxJobAttempts times with growing pauses, then marked failed with the
// error.

// Job statuses (asyncoperation.statuscode) and states (statecode), as
// Dataverse pairs them (developer/data-platform/asynchronous-service.md,
// "Manage system job states"): Ready has Waiting For Resources, Suspended
// has Waiting, Locked has In Progress, Pausing and Canceling, Completed has
// Succeeded, Failed and Canceled.
const (
	// JobWaiting (Waiting For Resources) is a job queued or waiting for
	// its next attempt (after postponeuntil).
	JobWaiting int64 = 0
	// JobPaused (Waiting) is a job a client paused; it runs again once a
	// client resumes it.
	JobPaused     int64 = 10
	JobInProgress int64 = 20
	JobSucceeded  int64 = 30
	JobFailed     int64 = 31
	JobCanceled   int64 = 32

	JobReady     int64 = 0
	JobSuspended int64 = 1
	JobLocked    int64 = 2
	JobCompleted int64 = 3
)

// jobWaitingBefore is the status queued jobs had before jobs followed
// Dataverse's pairs (Ready with Waiting); the runner still runs them.
const jobWaitingBefore int64 = 10

// Job queue settings.
const (
	// MaxJobAttempts is how often a failing asynchronous step runs before
	// its job is marked failed (Dataverse tries four times).
	MaxJobAttempts = 4
	// JobTimeout bounds one run of an asynchronous step (Dataverse's
	// two-minute operation limit).
	JobTimeout = 2 * time.Minute
	// JobLease is how long a job may stay in progress before another runner
	// takes it over (its runner died).
	JobLease = 5 * time.Minute
	// JobPollInterval is how often runners look for jobs when nothing woke
	// them.
	JobPollInterval = time.Second
)

func (in *Instance) initJobs() { in.jobsWake = make(chan struct{}, 1) }

func (in *Instance) logger() *slog.Logger {
	if in.Logger != nil {
		return in.Logger
	}
	return slog.Default()
}

// jobData is what a job keeps of its execution context.
type jobData struct {
	Step             string            `json:"step"`
	Message          string            `json:"message"`
	Table            string            `json:"table"`
	ID               uuid.UUID         `json:"id"`
	Depth            int               `json:"depth"`
	CorrelationID    uuid.UUID         `json:"correlationId"`
	OperationID      uuid.UUID         `json:"operationId"`
	RequestID        uuid.UUID         `json:"requestId"`
	CreatedOn        time.Time         `json:"createdOn"`
	Target           map[string]any    `json:"target,omitempty"`
	PreImages        map[string]record `json:"preImages,omitempty"`
	PostImages       map[string]record `json:"postImages,omitempty"`
	SharedVariables  map[string]any    `json:"sharedVariables,omitempty"`
	OutputParameters map[string]any    `json:"outputParameters,omitempty"`
	// UserID and InitiatingUserID are the execution context's, so that
	// the job runs as the caller that queued it (absent in jobs queued by
	// an earlier version: the instance's user).
	UserID           uuid.UUID `json:"userId,omitzero"`
	InitiatingUserID uuid.UUID `json:"initiatingUserId,omitzero"`
}

type record struct {
	ID      uuid.UUID      `json:"id"`
	Version int64          `json:"version"`
	Values  map[string]any `json:"values"`
}

// queue records the asynchronous steps of an execution as jobs, inside its
// transaction.
func (x *execution) queue(ctx context.Context, tx eventual.Tx) error {
	steps := x.stepsFor(eventual.PostOperation, eventual.Asynchronous)
	if len(steps) == 0 {
		return nil
	}
	jobs := x.in.Schema.Table("asyncoperation")
	if jobs == nil {
		return errors.New("instance: the schema has no asyncoperation table")
	}
	var post *eventual.Record
	for _, s := range steps {
		if !x.applies(s) {
			continue
		}
		ec := x.ec
		d := jobData{Step: s.Name, Message: ec.MessageName, Table: ec.PrimaryEntityName, ID: ec.PrimaryEntityID, Depth: ec.Depth,
			CorrelationID: ec.CorrelationID, OperationID: ec.OperationID, RequestID: ec.RequestID, CreatedOn: ec.OperationCreatedOn,
			SharedVariables: ec.SharedVariables, OutputParameters: encodeParams(ec.OutputParameters),
			UserID: ec.UserID, InitiatingUserID: ec.InitiatingUserID}
		if e := ec.Target(); e != nil {
			d.Target = encodeValues(e.Values)
		}
		if len(s.Images) > 0 {
			if post == nil && ec.MessageName != eventual.MessageDelete && ec.PrimaryEntityID != uuid.Nil {
				post, _ = tx.Get(ctx, x.tbl, ec.PrimaryEntityID, nil)
			}
			d.PreImages, d.PostImages = encodeImages(images(s, eventual.PreImage, x.pre)), encodeImages(images(s, eventual.PostImage, post))
		}
		data, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("queue step %s: %w", s.Name, err)
		}
		now := x.in.now()
		rec := &eventual.Record{Table: jobs, ID: x.in.newID(), Values: eventual.Values{
			"name": fmt.Sprintf("%s: %s of %s", s.Name, ec.MessageName, ec.PrimaryEntityName), "operationtype": int64(1),
			"messagename": ec.MessageName, "primaryentitytype": ec.PrimaryEntityName, "eventual_stepname": s.Name,
			"data": string(data), "retrycount": int64(0), "depth": int64(ec.Depth), "correlationid": ec.CorrelationID,
			"statecode": JobReady, "statuscode": JobWaiting, "createdon": now, "modifiedon": now,
			eventual.ColumnHydrationState: eventual.HydrationRecord,
		}}
		if err := tx.Insert(ctx, rec); err != nil {
			return fmt.Errorf("queue step %s: %w", s.Name, err)
		}
		x.queued = true
	}
	return nil
}

func encodeValues(v eventual.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		switch y := x.(type) {
		case eventual.Decimal:
			out[k] = map[string]any{"decimal": y.String()}
		case eventual.EntityReference:
			name := ""
			if y.Table != nil {
				name = y.Table.LogicalName
			}
			out[k] = map[string]any{"table": name, "id": y.ID}
		case time.Time:
			out[k] = map[string]any{"time": y.UTC().Format(time.RFC3339Nano)}
		case uuid.UUID:
			out[k] = map[string]any{"guid": y.String()}
		case *eventual.Entity:
			// Deep inserts are created before steps see them.
		default:
			out[k] = x
		}
	}
	return out
}

func encodeParams(p map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range p {
		switch x := v.(type) {
		case uuid.UUID:
			out[k] = map[string]any{"guid": x.String()}
		case eventual.EntityReference:
			out[k] = map[string]any{"table": x.Table.LogicalName, "id": x.ID}
		case bool, string, int64, float64:
			out[k] = x
		}
	}
	return out
}

func encodeImages(imgs map[string]*eventual.Record) map[string]record {
	if len(imgs) == 0 {
		return nil
	}
	out := map[string]record{}
	for alias, r := range imgs {
		out[alias] = record{ID: r.ID, Version: r.Version, Values: encodeValues(r.Values)}
	}
	return out
}

// decodeValues turns the job's JSON back into column values of t.
func (in *Instance) decodeValues(t *eventual.Table, raw map[string]any) eventual.Values {
	out := eventual.Values{}
	for k, v := range raw {
		c := t.Column(k)
		if c == nil {
			continue
		}
		out[k] = in.decodeValue(c, v)
	}
	return out
}

func (in *Instance) decodeValue(c *eventual.Column, v any) any {
	m, isMap := v.(map[string]any)
	switch c.Type {
	case eventual.TypeDecimal, eventual.TypeMoney:
		if isMap {
			d, _ := eventual.ParseDecimal(fmt.Sprint(m["decimal"]), c.Precision)
			return d
		}
	case eventual.TypeLookup, eventual.TypeCustomer:
		if isMap {
			id, _ := uuid.Parse(fmt.Sprint(m["id"]))
			return eventual.EntityReference{Table: in.Schema.Table(fmt.Sprint(m["table"])), ID: id}
		}
	case eventual.TypeDateTime:
		if isMap {
			t, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m["time"]))
			return t
		}
	case eventual.TypeUniqueIdentifier:
		if isMap {
			id, _ := uuid.Parse(fmt.Sprint(m["guid"]))
			return id
		}
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		if f, ok := v.(float64); ok {
			return int64(f)
		}
	}
	return v
}

// RunJobs runs the jobs that are due now and returns how many it ran.
func (in *Instance) RunJobs(ctx context.Context) int {
	jobs := in.Schema.Table("asyncoperation")
	if jobs == nil || in.Pipeline == nil {
		return 0
	}
	now := in.now()
	col := jobs.Column
	is := func(name string, v int64) eventual.Expr {
		return eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: col(name)}, Right: eventual.Literal{Value: v}}
	}
	due := eventual.Or{
		Left: eventual.Or{
			Left: eventual.And{Left: is("statecode", JobReady), Right: is("statuscode", JobWaiting)},
			// Queued by an earlier version: Ready with Waiting.
			Right: eventual.And{Left: is("statecode", JobReady), Right: is("statuscode", jobWaitingBefore)},
		},
		// A job in progress past its lease lost its runner: take it over.
		Right: eventual.And{
			Left:  is("statuscode", JobInProgress),
			Right: eventual.Compare{Op: eventual.OpLt, Left: eventual.Field{Column: col("startedon")}, Right: eventual.Literal{Value: now.Add(-JobLease)}},
		},
	}
	notPostponed := eventual.Or{
		Left:  eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: col("postponeuntil")}, Right: eventual.Literal{Value: nil}},
		Right: eventual.Compare{Op: eventual.OpLe, Left: eventual.Field{Column: col("postponeuntil")}, Right: eventual.Literal{Value: now}},
	}
	var recs []*eventual.Record
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		recs, err = tx.Query(ctx, &eventual.Query{Table: jobs, Filter: eventual.And{Left: due, Right: notPostponed},
			OrderBy: []eventual.Order{{Column: col("createdon")}}, Limit: 100})
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			in.logger().Warn("job runner: read jobs", "err", err)
		}
		return 0
	}
	ran := 0
	for _, rec := range recs {
		if ctx.Err() != nil {
			break
		}
		if in.runJob(ctx, rec) {
			ran++
		}
	}
	return ran
}

// runJob claims and runs one job; it reports whether it ran it.
func (in *Instance) runJob(ctx context.Context, rec *eventual.Record) bool {
	jobs := rec.Table
	ref := rec.Reference()
	// Claim: the update succeeds for one runner only.
	if err := in.updateJob(ctx, ref, eventual.Values{"statuscode": JobInProgress, "statecode": JobLocked, "startedon": in.now()},
		eventual.Condition{IfMatch: fmt.Sprint(rec.Version)}, false); err != nil {
		return false
	}
	var d jobData
	runErr := json.Unmarshal([]byte(fmt.Sprint(rec.Values["data"])), &d)
	if runErr == nil {
		runErr = in.execJob(ctx, &d)
	}
	retries, _ := rec.Values["retrycount"].(int64)
	done := eventual.Values{"completedon": in.now(), "statecode": JobCompleted, "statuscode": JobSucceeded}
	if runErr != nil {
		msg := eventual.ErrorMessage(runErr)
		if _, ok := errors.AsType[*eventual.Error](runErr); !ok {
			msg = runErr.Error()
		}
		msg = jobMessage(msg, jobs.Column("message"))
		retries++
		if retries < MaxJobAttempts {
			done = eventual.Values{"statecode": JobReady, "statuscode": JobWaiting, "retrycount": retries, "message": msg,
				"postponeuntil": in.now().Add(time.Duration(1<<retries) * time.Second)}
		} else {
			done = eventual.Values{"statecode": JobCompleted, "statuscode": JobFailed, "retrycount": retries, "message": msg,
				"friendlymessage": msg, "completedon": in.now()}
		}
	}
	if err := in.updateJob(context.WithoutCancel(ctx), ref, done, eventual.Condition{}, true); err != nil {
		in.logger().Warn("job runner: record the outcome of a job", "job", rec.ID, "table", jobs.LogicalName, "err", err)
	} else if in.Observer != nil {
		outcome := JobSucceededOutcome
		switch {
		case runErr != nil && retries < MaxJobAttempts:
			outcome = JobRetriedOutcome
		case runErr != nil:
			outcome = JobFailedOutcome
		}
		in.Observer.JobDone(outcome)
	}
	return true
}

// jobMessage makes an error message fit the message column of a job:
// text the column can hold (no NUL, valid UTF-8), at most its MaxLength
// in UTF-16 units, ending in "…" when cut.
func jobMessage(msg string, c *eventual.Column) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = strings.ReplaceAll(msg, "\x00", "\uFFFD")
	if c != nil && c.MaxLength > 0 && eventual.UTF16Len(msg) > c.MaxLength {
		msg = eventual.TruncateUTF16(msg, c.MaxLength-1) + "…"
	}
	return msg
}

// updateJob writes the runner's bookkeeping on a job record. It runs no
// steps: steps registered for every table must not see, or multiply, the
// queue's own writes. An outcome is written only while the job is still in
// progress: a client that canceled or paused it meanwhile wins.
func (in *Instance) updateJob(ctx context.Context, ref eventual.EntityReference, values eventual.Values, cond eventual.Condition, outcome bool) error {
	return in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		existing, err := tx.Get(ctx, ref.Table, ref.ID, nil)
		if err != nil {
			return err
		}
		if err := checkVersion(existing, cond); err != nil {
			return err
		}
		if outcome && existing.Values["statuscode"] != JobInProgress {
			return nil
		}
		return in.update(ctx, tx, existing, values, nil, nil)
	})
}

// System jobs (asyncoperation) belong to the instance: it creates them for
// asynchronous steps and its runner writes them directly, bypassing the
// messages. Through the messages (the Web API, bulk messages, $batch,
// steps, embedding programs) a job can only be managed as Dataverse lets
// users manage system jobs (developer/data-platform/asynchronous-service.md):
// "Creating system jobs with code is not supported", only StateCode,
// StatusCode and PostponeUntil are "supported for update", and the state
// changes are Cancel (Ready, Suspended or Locked to Completed/Canceled),
// Resume (Suspended to Ready), Pause (Locked to Suspended) and Postpone
// (postponeuntil on a Ready or Locked job). Delete is allowed in any state.

// isJobTable reports whether t is the system job table.
func isJobTable(t *eventual.Table) bool { return t != nil && t.LogicalName == "asyncoperation" }

// errCreateJob is the error for creating a system job through a message.
func errCreateJob() error {
	return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation,
		"Creating system jobs (asyncoperation) is not supported: the instance creates them for asynchronous steps.")
}

// jobColumns are the columns of a system job a message may update.
var jobColumns = map[string]bool{"statecode": true, "statuscode": true, "postponeuntil": true}

// checkJobUpdate checks an update of a system job against the operations
// Dataverse allows on system jobs. values are the values to write.
func checkJobUpdate(existing *eventual.Record, values eventual.Values) error {
	names := slices.Sorted(maps.Keys(values))
	for _, name := range names {
		if !jobColumns[name] {
			return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation,
				"The column '%s' of a system job cannot be updated: only statecode, statuscode and postponeuntil are supported for update.", name)
		}
	}
	cur, _ := existing.Values["statecode"].(int64)
	curStatus, _ := existing.Values["statuscode"].(int64)
	target, status := cur, int64(-1)
	if v, ok := values["statuscode"].(int64); ok {
		status = v
	}
	if v, ok := values["statecode"].(int64); ok {
		target = v
	}
	invalid := func() error {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidState,
			"The state transition requested is not valid for the current state. Current state: %d, current status: %d, target state: %d.", cur, curStatus, target)
	}
	if cur == JobCompleted && len(values) > 0 {
		return invalid()
	}
	switch {
	case target == cur:
		// No state change: the status stays, and only a Ready or Locked
		// job can be postponed.
		if status >= 0 && status != curStatus {
			return invalid()
		}
		if _, ok := values["postponeuntil"]; ok && cur != JobReady && cur != JobLocked {
			return invalid()
		}
	case target == JobCompleted: // Cancel
		if status != JobCanceled {
			return eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidState,
				"A system job can be completed only by canceling it: set statecode %d with statuscode %d (Canceled).", JobCompleted, JobCanceled)
		}
	case cur == JobSuspended && target == JobReady: // Resume
	case cur == JobLocked && target == JobSuspended: // Pause
	default:
		return invalid()
	}
	return nil
}

// execJob runs the step of a job; a panicking step fails its job.
func (in *Instance) execJob(ctx context.Context, d *jobData) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the step %q panicked: %v", d.Step, p)
		}
	}()
	s := in.Pipeline.Step(d.Step)
	if s == nil {
		return fmt.Errorf("the step %q is no longer registered", d.Step)
	}
	t := in.Schema.Table(d.Table)
	if t == nil {
		return fmt.Errorf("the table %q is no longer in the schema", d.Table)
	}
	ec := &eventual.ExecutionContext{
		MessageName: d.Message, PrimaryEntityName: d.Table, PrimaryEntityID: d.ID, Stage: eventual.PostOperation, Mode: eventual.Asynchronous,
		Depth: d.Depth, CorrelationID: d.CorrelationID, OperationID: d.OperationID, RequestID: d.RequestID, OperationCreatedOn: d.CreatedOn,
		UserID: in.Meta.UserID, InitiatingUserID: in.Meta.UserID, BusinessUnitID: in.Meta.BusinessUnitID, OrganizationID: in.Meta.OrganizationID,
		InputParameters: map[string]any{}, OutputParameters: map[string]any{}, SharedVariables: d.SharedVariables,
		PreEntityImages: map[string]*eventual.Record{}, PostEntityImages: map[string]*eventual.Record{}, Step: s,
		Service: &service{in: in},
	}
	if d.UserID != uuid.Nil {
		ec.UserID = d.UserID
	}
	if d.InitiatingUserID != uuid.Nil {
		ec.InitiatingUserID = d.InitiatingUserID
	}
	if ec.SharedVariables == nil {
		ec.SharedVariables = map[string]any{}
	}
	if d.Target != nil {
		ec.InputParameters["Target"] = &eventual.Entity{Table: t, ID: d.ID, Values: in.decodeValues(t, d.Target)}
	} else if d.ID != uuid.Nil {
		ec.InputParameters["Target"] = eventual.Ref(t, d.ID)
	}
	for k, v := range d.OutputParameters {
		if m, ok := v.(map[string]any); ok {
			if g, ok := m["guid"]; ok {
				id, _ := uuid.Parse(fmt.Sprint(g))
				ec.OutputParameters[k] = id
				continue
			}
		}
		ec.OutputParameters[k] = v
	}
	for alias, r := range d.PreImages {
		ec.PreEntityImages[alias] = &eventual.Record{Table: t, ID: r.ID, Version: r.Version, Values: in.decodeValues(t, r.Values)}
	}
	for alias, r := range d.PostImages {
		ec.PostEntityImages[alias] = &eventual.Record{Table: t, ID: r.ID, Version: r.Version, Values: in.decodeValues(t, r.Values)}
	}
	jctx, cancel := context.WithTimeout(ctx, JobTimeout)
	defer cancel()
	return s.Plugin.Execute(context.WithValue(jctx, parentKey, ec), ec)
}

// runRead runs the steps of a read message around the read. read returns
// the output (a record or records) that PostOperation steps see under
// output and may change.
func (x *execution) runRead(ctx context.Context, read func() (any, error), output string) error {
	for _, st := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation} {
		if err := x.runStage(ctx, st, nil); err != nil {
			return err
		}
	}
	out, err := read()
	if err != nil {
		return err
	}
	x.ec.OutputParameters[output] = out
	return x.runStage(ctx, eventual.PostOperation, nil)
}
