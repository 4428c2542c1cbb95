package eventual

import (
	"strconv"
	"strings"
)

// The state model: statecode (Status) and statuscode (Status Reason).
// Every statuscode option belongs to one statecode option, and every
// statecode option has a default statuscode, which a write that sets
// statecode alone gets (powerapps-docs
// developer/data-platform/special-update-operation-behavior.md: "When you
// update StateCode without specifying a StatusCode, the default status
// value will be set by the system").
//
// Options do not carry their state, so the models are listed here: the
// one every table has by default (Active/Inactive) and the system job's
// (asyncoperation, from developer/data-platform/asynchronous-service.md).
// A table whose options match neither has no model, and its pairs are not
// checked.

// stateModel maps statuses to their states and states to their default
// status.
type stateModel struct {
	stateOf       map[int64]int64
	defaultStatus map[int64]int64
}

var (
	// defaultStateModel: Active (0) with status Active (1), Inactive (1)
	// with status Inactive (2).
	defaultStateModel = &stateModel{
		stateOf:       map[int64]int64{1: 0, 2: 1},
		defaultStatus: map[int64]int64{0: 1, 1: 2},
	}
	// jobStateModel: Ready (0), Suspended (1), Locked (2), Completed (3).
	jobStateModel = &stateModel{
		stateOf:       map[int64]int64{0: 0, 10: 1, 20: 2, 21: 2, 22: 2, 30: 3, 31: 3, 32: 3},
		defaultStatus: map[int64]int64{0: 0, 1: 10, 2: 20, 3: 30},
	}
	stateModels = map[string]*stateModel{"asyncoperation": jobStateModel}
)

// model returns the state model of t, or nil if it has none.
func (t *Table) model() *stateModel {
	state, status := t.Column("statecode"), t.Column("statuscode")
	if state == nil || status == nil {
		return nil
	}
	m := stateModels[t.LogicalName]
	if m == nil {
		m = defaultStateModel
	}
	// The model must name exactly the table's options.
	if len(status.Options) != len(m.stateOf) || len(state.Options) != len(m.defaultStatus) {
		return nil
	}
	for _, o := range status.Options {
		if _, ok := m.stateOf[o.Value]; !ok {
			return nil
		}
	}
	for _, o := range state.Options {
		if _, ok := m.defaultStatus[o.Value]; !ok {
			return nil
		}
	}
	return m
}

// HasStateModel reports whether the instance knows which statecode each
// statuscode of t belongs to, and so checks the pairs written.
func (t *Table) HasStateModel() bool { return t.model() != nil }

// StatusState returns the statecode value the statuscode value belongs
// to. It reports false if t has no state model or the status is not one of
// its options.
func (t *Table) StatusState(status int64) (int64, bool) {
	m := t.model()
	if m == nil {
		return 0, false
	}
	s, ok := m.stateOf[status]
	return s, ok
}

// DefaultStatus returns the default statuscode value of a statecode
// value. It reports false if t has no state model or the state is not one
// of its options.
func (t *Table) DefaultStatus(state int64) (int64, bool) {
	m := t.model()
	if m == nil {
		return 0, false
	}
	s, ok := m.defaultStatus[state]
	return s, ok
}

// StateName returns the name Dataverse gives a state in its errors:
// "<SchemaName>State.<label>", for example "AccountState.Inactive" or
// "AsyncOperationState.Completed".
func (t *Table) StateName(state int64) string {
	label := ""
	if c := t.Column("statecode"); c != nil {
		label, _ = c.OptionLabel(state)
	}
	if label == "" {
		label = strconv.FormatInt(state, 10)
	}
	return t.SchemaName + "State." + strings.ReplaceAll(label, " ", "")
}
