package sqlstore

import (
	"testing"

	"github.com/eventual-pp/eventual"
)

// TestPutHints: a table's Puts guess "insert" until most of its recent
// Puts updated, and again once inserts come back; tables are guessed
// apart, and a nil PutHints never guesses "insert".
func TestPutHints(t *testing.T) {
	acct, contact := &eventual.Table{LogicalName: "account"}, &eventual.Table{LogicalName: "contact"}
	tests := []struct {
		name  string
		saw   []bool // what the account's Puts did, in order
		first bool   // insertFirst for account after them
	}{
		{"nothing yet", nil, true},
		{"inserts", []bool{true, true, true}, true},
		{"a few updates", []bool{false, false, false}, true},
		{"a run of updates", []bool{false, false, false, false, false, false, false, false, false, false}, false},
		{"updates, then inserts", []bool{false, false, false, false, false, false, false, false, false, false, true, true, true}, true},
		{"three updates in four", []bool{true, false, false, false, true, false, false, false, true, false, false, false, true, false, false, false}, false},
		{"one update in two", []bool{true, false, true, false, true, false, true, false, true, false, true, false}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h PutHints
			for _, inserted := range tt.saw {
				h.saw(acct, inserted)
			}
			if got := h.insertFirst(acct); got != tt.first {
				t.Errorf("insertFirst(account) = %v after %v (share of updates %d/%d), want %v", got, tt.saw, h.updates["account"], hintScale, tt.first)
			}
			if !h.insertFirst(contact) {
				t.Errorf("insertFirst(contact) = false, want true: no Put into contact yet")
			}
		})
	}
	var none *PutHints
	none.saw(acct, true)
	if none.insertFirst(acct) {
		t.Errorf("a nil PutHints guessed insert")
	}
}
