package instance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/google/uuid"
)

// observed records what an instance.Observer hears.
type observed struct {
	mu       sync.Mutex
	created  []uuid.UUID
	hydrated []uuid.UUID
	since    []time.Time
	jobs     []string
}

func (o *observed) PlaceholderCreated(table string, id uuid.UUID, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.created = append(o.created, id)
}

func (o *observed) PlaceholderHydrated(table string, id uuid.UUID, since, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hydrated = append(o.hydrated, id)
	o.since = append(o.since, since)
}

func (o *observed) JobDone(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.jobs = append(o.jobs, outcome)
}

// TestObserverHearsCommittedPlaceholders: the Observer hears of a
// placeholder made and of its hydration, once each, after the
// transaction commits; a write that fails after making a placeholder
// reports nothing (its placeholder rolled back with it).
func TestObserverHearsCommittedPlaceholders(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		obs := &observed{}
		e.in.Observer = obs
		ctx := testContext(t)
		ensure := func(ctx context.Context, ec *eventual.ExecutionContext) error {
			ref, ok := ec.Target().Values["parentcustomerid"].(eventual.EntityReference)
			if !ok {
				return nil
			}
			_, err := ec.Service.EnsurePlaceholder(ctx, ref, nil)
			return err
		}
		e.register(t, syncStep("placeholder", eventual.MessageCreate, "contact", eventual.PreOperation, ensure))
		missing := uuid.New()
		e.mustCreate(t, e.contact, eventual.Values{"lastname": "A", "parentcustomerid": eventual.Ref(e.account, missing)})
		if len(obs.created) != 1 || obs.created[0] != missing {
			t.Fatalf("created %v, want [%s]", obs.created, missing)
		}

		// A create that fails after its placeholder was made: nothing heard.
		other := uuid.New()
		_, err := e.in.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": string(make([]byte, 200)) + "x", "parentcustomerid": eventual.Ref(e.account, other)}})
		if err == nil {
			t.Fatal("a lastname past its maximum length was accepted")
		}
		if len(obs.created) != 1 {
			t.Errorf("a rolled-back placeholder was heard of: %v", obs.created)
		}

		// Inside a session (a $batch change set, the bulk messages): heard
		// once the session's transaction commits, whatever context its
		// methods get.
		inSession := uuid.New()
		err = e.in.Atomic(ctx, func(rs eventual.RecordService) error {
			_, err := rs.Create(context.Background(), &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "S", "parentcustomerid": eventual.Ref(e.account, inSession)}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(obs.created) != 2 || obs.created[1] != inSession {
			t.Errorf("created %v, want the session's placeholder %s heard too", obs.created, inSession)
		}

		// Hydration by the real data.
		if _, _, err := e.in.Upsert(ctx, eventual.Ref(e.account, missing), &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "Real"}}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if len(obs.hydrated) != 1 || obs.hydrated[0] != missing || obs.since[0].IsZero() {
			t.Errorf("hydrated %v (since %v), want [%s] with its creation time", obs.hydrated, obs.since, missing)
		}
		// Updating the hydrated record again is no hydration.
		if _, err := e.in.Update(ctx, eventual.Ref(e.account, missing), eventual.Values{"name": "Again"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if len(obs.hydrated) != 1 {
			t.Errorf("hydrated %d times, want 1", len(obs.hydrated))
		}
	})
}

var _ instance.Observer = (*observed)(nil)

// TestCallerInExecutionContext: a message run under eventual.WithCaller
// carries the caller as UserId and InitiatingUserId in its steps'
// execution context; without one, the instance's user.
func TestCallerInExecutionContext(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		var got []uuid.UUID
		e.register(t, syncStep("who", eventual.MessageCreate, "account", eventual.PreOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			got = append(got, ec.UserID, ec.InitiatingUserID)
			return nil
		}))
		caller := eventual.Caller{UserID: uuid.New(), Name: "Alice"}
		if _, err := e.in.Create(eventual.WithCaller(testContext(t), caller), &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "A"}}); err != nil {
			t.Fatal(err)
		}
		e.mustCreate(t, e.account, eventual.Values{"name": "B"})
		if len(got) != 4 || got[0] != caller.UserID || got[1] != caller.UserID || got[2] != e.in.Meta.UserID || got[3] != e.in.Meta.UserID {
			t.Errorf("user ids %v; want the caller %s twice, then the instance's %s twice", got, caller.UserID, e.in.Meta.UserID)
		}
	})
}

// TestEnsureUser: a caller is recorded as a systemuser once, concurrent
// first requests included; an application user is Non-interactive; a
// user already recorded keeps what it holds.
func TestEnsureUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		users := e.schema.Table("systemuser")
		app := eventual.Caller{UserID: uuid.New(), Name: "Integration", Application: true}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- e.in.EnsureUser(ctx, app) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rec, err := e.in.Retrieve(ctx, eventual.Ref(users, app.UserID), nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Values["fullname"] != "Integration" || rec.Values["accessmode"] != int64(4) {
			t.Errorf("the user: %v", rec.Values)
		}
		if _, err := e.in.Update(ctx, eventual.Ref(users, app.UserID), eventual.Values{"fullname": "Renamed"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		fresh := instance.New(e.store, e.schema) // a new process: nothing remembered
		if err := fresh.EnsureUser(ctx, app); err != nil {
			t.Fatal(err)
		}
		if rec, _ := e.in.Retrieve(ctx, eventual.Ref(users, app.UserID), nil, nil, ""); rec.Values["fullname"] != "Renamed" {
			t.Errorf("EnsureUser overwrote a recorded user: %v", rec.Values)
		}
		n, err := e.in.Count(ctx, users, nil)
		if err != nil || n != 1 {
			t.Errorf("%d users (%v), want 1", n, err)
		}
	})
}
