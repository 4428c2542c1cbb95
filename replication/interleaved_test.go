package replication

import (
	"fmt"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
)

// TestInterleavedWritesAndCycles: cycles run while A creates, updates and
// deletes parents whose children's lookups the deletes clear; contacts
// go first (they reference accounts B may not have yet: placeholders),
// and at the end B equals A with no dead letter.
func TestInterleavedWritesAndCycles(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) { testInterleaved(t, kind) })
}

func testInterleaved(t *testing.T, kind teststore.Kind) {
	e := newEnv(t, kind, "contact", "account")
	acc := e.schema.Table("account")
	for round := range 3 {
		for i := range 25 {
			id := e.create(e.a, "account", eventual.Values{"name": fmt.Sprintf("acc %d-%d", round, i), "accountnumber": fmt.Sprintf("R%d-%d", round, i)})
			e.create(e.a, "contact", eventual.Values{"lastname": fmt.Sprintf("c %d-%d", round, i), "parentcustomerid": eventual.Ref(acc, id)})
			switch i % 5 {
			case 1:
				if _, err := e.a.Update(e.ctx, eventual.Ref(acc, id), eventual.Values{"telephone1": "1"}, eventual.Condition{}); err != nil {
					t.Fatal(err)
				}
			case 3:
				if err := e.a.Delete(e.ctx, eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{fmt.Sprintf("R%d-%d", round, i-1)}}, eventual.Condition{}); err != nil {
					t.Fatal(err)
				}
			}
			if i%7 == 0 {
				if _, err := e.sync.Cycle(e.ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	e.catchUp()
	if d, _ := e.state.DeadLetters(e.ctx, ""); len(d) != 0 {
		t.Errorf("%d dead letters, the first: %+v", len(d), d[0])
	}
	e.converged("account", "contact")
}
