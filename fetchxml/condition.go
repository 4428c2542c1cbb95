package fetchxml

import (
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// comparisons are the operators that compare a column with one value.
var comparisons = map[string]eventual.CompareOp{
	"eq": eventual.OpEq, "ne": eventual.OpNe, "neq": eventual.OpNe,
	"gt": eventual.OpGt, "ge": eventual.OpGe, "lt": eventual.OpLt, "le": eventual.OpLe,
}

// matches are the text operators: the kind of match and whether it is
// negated.
var matches = map[string]struct {
	kind eventual.MatchKind
	not  bool
}{
	"like": {eventual.MatchLike, false}, "not-like": {eventual.MatchLike, true},
	"begins-with": {eventual.MatchStartsWith, false}, "not-begin-with": {eventual.MatchStartsWith, true},
	"ends-with": {eventual.MatchEndsWith, false}, "not-end-with": {eventual.MatchEndsWith, true},
}

// dateOperators maps FetchXML's date operators to the date functions
// (eventual.LookupDateFunction) they share with the Web API.
var dateOperators = map[string]string{
	"today": "Today", "yesterday": "Yesterday", "tomorrow": "Tomorrow",
	"last-seven-days": "LastSevenDays", "next-seven-days": "NextSevenDays",
	"last-week": "LastWeek", "this-week": "ThisWeek", "next-week": "NextWeek",
	"last-month": "LastMonth", "this-month": "ThisMonth", "next-month": "NextMonth",
	"last-year": "LastYear", "this-year": "ThisYear", "next-year": "NextYear",
	"last-x-hours": "LastXHours", "next-x-hours": "NextXHours",
	"last-x-days": "LastXDays", "next-x-days": "NextXDays",
	"last-x-weeks": "LastXWeeks", "next-x-weeks": "NextXWeeks",
	"last-x-months": "LastXMonths", "next-x-months": "NextXMonths",
	"last-x-years": "LastXYears", "next-x-years": "NextXYears",
	"olderthan-x-minutes": "OlderThanXMinutes", "olderthan-x-hours": "OlderThanXHours",
	"olderthan-x-days": "OlderThanXDays", "olderthan-x-weeks": "OlderThanXWeeks",
	"olderthan-x-months": "OlderThanXMonths", "olderthan-x-years": "OlderThanXYears",
	"on": "On", "on-or-after": "OnOrAfter", "on-or-before": "OnOrBefore",
}

// hierarchyOperators maps FetchXML's hierarchy operators to their Web
// API names (eventual.HierarchyOperators).
var hierarchyOperators = map[string]string{
	"under": "Under", "eq-or-under": "UnderOrEqual", "not-under": "NotUnder",
	"above": "Above", "eq-or-above": "AboveOrEqual",
}

// unsupportedOperators says why a documented operator is refused: what
// it needs that eventual does not have.
func unsupportedOperators(op string) (string, bool) {
	switch {
	case strings.Contains(op, "fiscal"):
		return "it needs the organization's fiscal year settings, which eventual does not have", true
	case op == "contain-values" || op == "not-contain-values":
		return "it applies to multi-select choice columns, which eventual does not have", true
	case strings.Contains(op, "businessid") || strings.Contains(op, "userteams") || strings.Contains(op, "userhierarchy") || op == "eq-userlanguage":
		return "it needs business units, teams, hierarchy security or user settings, which eventual does not have", true
	}
	return "", false
}

// condition reads a condition element.
func (p *parser) condition(sc *scope, n *node) (eventual.Expr, error) {
	p.conditions++
	if p.conditions > MaxCondition {
		return nil, errorf(CodeTooManyConditions, "Number of conditions in query exceeded maximum limit (%d).", MaxCondition)
	}
	for name := range n.attrs {
		switch name {
		case "attribute", "operator", "value", "valueof", "entityname", "uiname", "uitype", "uihidden":
		case "alias", "aggregate", "rowaggregate":
			return nil, eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "A condition on an aggregate (%s) is not supported yet by eventual.", name)
		default:
			return nil, invalidNode("<condition> has no attribute %s.", name)
		}
	}
	if en, ok := n.attr("entityname"); ok {
		return p.linkedCondition(sc, n, en)
	}
	return p.columnCondition(sc, n)
}

// linkedCondition reads a condition of the entity's filter on the
// columns of the link-entity it names (entityname), applied after the
// join: on an outer link whose filter a related record fails, the
// columns are null.
func (p *parser) linkedCondition(sc *scope, n *node, name string) (eventual.Expr, error) {
	if sc == p.root && p.named[name] == nil && name == sc.table.LogicalName {
		return p.columnCondition(sc, n) // the entity itself
	}
	target, err := p.linkNamed(sc, name, "A condition")
	if err != nil {
		if t := p.named[name]; t != nil && sc == p.root && t.collection && t.base == t {
			return p.joinNullCondition(t, n, err)
		}
		return nil, err
	}
	// Its valueof may name another link of the entity, as the entity's
	// own conditions may.
	p.inEntityFilter = true
	x, err := p.columnCondition(target, n)
	p.inEntityFilter = false
	if err != nil {
		return nil, err
	}
	return afterJoin(target, n, x), nil
}

// afterJoin applies a condition on a many-to-one link's columns after
// the join: where a link's filter refuses the related record, its
// columns are null, so a null test holds and any other condition fails.
func afterJoin(target *scope, n *node, x eventual.Expr) eventual.Expr {
	if target.filter == nil {
		return x
	}
	if op := strings.ToLower(n.attrs["operator"]); op == "null" {
		return eventual.Or{Left: eventual.Not{X: target.filter}, Right: x}
	}
	return eventual.And{Left: target.filter, Right: x}
}

// joinNullCondition reads the one condition eventual takes on a
// one-to-many link's columns after the join: null or not-null on its key
// or its lookup, which tests that no related row (matching the link's
// filter) exists, or that one does: the outer join pattern for "accounts
// without contacts".
func (p *parser) joinNullCondition(target *scope, n *node, refusal error) (eventual.Expr, error) {
	c, err := p.column(target.table, n, "attribute")
	if err != nil {
		return nil, err
	}
	op := strings.ToLower(n.attrs["operator"])
	if c != target.table.PrimaryKey() && c != target.rel.Lookup || op != "null" && op != "not-null" || n.attrs["value"] != "" || len(n.children) > 0 {
		return nil, refusal
	}
	var x eventual.Expr = eventual.Any{Relationship: target.rel, Filter: target.filter}
	if op == "null" {
		x = eventual.Not{X: x}
	}
	return x, nil
}

// columnCondition reads a condition on a column of the scope's table.
func (p *parser) columnCondition(sc *scope, n *node) (eventual.Expr, error) {
	c, err := p.column(sc.table, n, "attribute")
	if err != nil {
		return nil, err
	}
	op, ok := n.attr("operator")
	if !ok || op == "" {
		return nil, invalidNode("<condition> on %s needs an operator.", c.LogicalName)
	}
	op = strings.ToLower(op)
	f := sc.field(c)
	single, hasValue := n.attr("value")
	var list []string
	for _, v := range n.children {
		if v.name != "value" || len(v.children) > 0 {
			return nil, invalidNode("<condition> holds <value> elements only.")
		}
		if len(list) >= MaxValues {
			return nil, errorf(CodeTooManyConditions, "A condition holds at most %d values.", MaxValues)
		}
		list = append(list, v.text.String())
	}
	one := func() (any, error) {
		if len(list) == 1 && !hasValue {
			single, hasValue = list[0], true
		}
		if !hasValue || len(list) > 1 {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' needs one value.", sc.table.LogicalName, c.LogicalName, op)
		}
		return p.value(sc.table, c, op, single)
	}
	none := func() error {
		if hasValue || len(list) > 0 {
			return errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' takes no value.", sc.table.LogicalName, c.LogicalName, op)
		}
		return nil
	}
	if other, ok := n.attr("valueof"); ok {
		return p.valueOf(sc, c, f, op, other)
	}
	if cmp, ok := comparisons[op]; ok {
		v, err := one()
		if err != nil {
			return nil, err
		}
		return eventual.Compare{Op: cmp, Left: f, Right: eventual.Literal{Value: v}}, nil
	}
	if m, ok := matches[op]; ok {
		if !c.Type.IsText() {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' applies to text columns only.", sc.table.LogicalName, c.LogicalName, op)
		}
		v, err := one()
		if err != nil {
			return nil, err
		}
		pattern := v.(string)
		if m.kind != eventual.MatchLike {
			// begins-with 'abc' is like 'abc%': a value given with the
			// wildcard already (as the SDK writes it) keeps one.
			pattern = strings.TrimSuffix(strings.TrimPrefix(pattern, "%"), "%")
		}
		var x eventual.Expr = eventual.Match{Kind: m.kind, Field: f, Pattern: pattern}
		if m.not {
			x = eventual.Not{X: x}
		}
		return x, nil
	}
	switch op {
	case "null", "not-null":
		if err := none(); err != nil {
			return nil, err
		}
		cmp := eventual.OpEq
		if op == "not-null" {
			cmp = eventual.OpNe
		}
		return eventual.Compare{Op: cmp, Left: f, Right: eventual.Literal{Value: nil}}, nil
	case "in", "not-in", "between", "not-between":
		if hasValue {
			list = append([]string{single}, list...)
		}
		vals := make([]any, len(list))
		for i, s := range list {
			v, err := p.value(sc.table, c, op, s)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		if op == "in" || op == "not-in" {
			if len(vals) == 0 {
				return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' needs at least one value.", sc.table.LogicalName, c.LogicalName, op)
			}
			return eventual.In{Field: f, Values: vals, Not: op == "not-in"}, nil
		}
		if len(vals) != 2 {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' needs two values.", sc.table.LogicalName, c.LogicalName, op)
		}
		var x eventual.Expr = eventual.And{
			Left:  eventual.Compare{Op: eventual.OpGe, Left: f, Right: eventual.Literal{Value: vals[0]}},
			Right: eventual.Compare{Op: eventual.OpLe, Left: f, Right: eventual.Literal{Value: vals[1]}}}
		if op == "not-between" {
			x = eventual.Not{X: x}
		}
		return x, nil
	case "eq-userid", "ne-userid":
		if err := none(); err != nil {
			return nil, err
		}
		if !c.Type.IsLookup() || !containsTarget(c, eventual.UserTable) {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' applies to lookups of systemuser.", sc.table.LogicalName, c.LogicalName, op)
		}
		ref := eventual.Ref(p.schema.Table(eventual.UserTable), p.env.UserID)
		cmp := eventual.OpEq
		if op == "ne-userid" {
			cmp = eventual.OpNe
		}
		return eventual.Compare{Op: cmp, Left: f, Right: eventual.Literal{Value: ref}}, nil
	}
	if name, ok := hierarchyOperators[op]; ok {
		v, err := one()
		if err != nil {
			return nil, err
		}
		id, ok := v.(uuid.UUID)
		if !ok {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' applies to the primary key of a table with a hierarchical relationship.", sc.table.LogicalName, c.LogicalName, op)
		}
		x, err := eventual.HierarchyCondition(name, f, id)
		if err != nil {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': %v.", sc.table.LogicalName, c.LogicalName, err)
		}
		return x, nil
	}
	if why, ok := unsupportedOperators(op); ok {
		return nil, eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "The condition operator '%s' (attribute '%s.%s') is not supported by eventual: %s.", op, sc.table.LogicalName, c.LogicalName, why)
	}
	if name, ok := dateOperators[op]; ok {
		if c.Type != eventual.TypeDateTime {
			return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': the operator '%s' applies to date and time columns only.", sc.table.LogicalName, c.LogicalName, op)
		}
		fn, _ := eventual.LookupDateFunction(name)
		var n int
		var d time.Time
		switch fn.Arg {
		case eventual.DateArgNone:
			if err := none(); err != nil {
				return nil, err
			}
		case eventual.DateArgCount:
			if len(list) == 1 && !hasValue {
				single, hasValue = list[0], true
			}
			var err error
			n, err = strconv.Atoi(strings.TrimSpace(single))
			if !hasValue || err != nil || n < 0 || n > eventual.MaxDateCount {
				return nil, errorf(CodeInvalidValue, "Condition for attribute '%s.%s': the operator '%s' needs a whole number from 0 to %d as its value.", sc.table.LogicalName, c.LogicalName, op, eventual.MaxDateCount)
			}
		case eventual.DateArgDate:
			v, err := one()
			if err != nil {
				return nil, err
			}
			d = v.(time.Time)
		}
		return fn.Filter(f, p.env.Now, n, d), nil
	}
	return nil, errorf(CodeInvalidConditionOperator, "Unsupported condition operator: '%s' (attribute '%s.%s'), or not supported by eventual yet.", op, sc.table.LogicalName, c.LogicalName)
}

// valueOf reads a comparison of two columns: of the same table, or with
// a column of a many-to-one link-entity of the entity (valueof="alias.column").
func (p *parser) valueOf(sc *scope, c *eventual.Column, f eventual.Field, op, other string) (eventual.Expr, error) {
	cmp, isCmp := comparisons[op]
	if !isCmp {
		return nil, errorf(CodeInvalidConditionOperator, "Condition for attribute '%s.%s': valueof compares with eq, ne, gt, ge, lt or le, not '%s'.", sc.table.LogicalName, c.LogicalName, op)
	}
	target, name := sc, other
	if alias, col, ok := strings.Cut(other, "."); ok {
		from := sc
		if p.inEntityFilter {
			from = p.root // a condition with entityname, in the entity's filter
		}
		var err error
		if target, err = p.linkNamed(from, alias, "A condition with valueof"); err != nil {
			return nil, err
		}
		name = col
	}
	oc := target.table.Column(name)
	switch {
	case oc == nil:
		return nil, errorf(CodeNoAttribute, "'%s' entity doesn't contain attribute with Name = '%s' and NameMapping = 'Logical'.", target.table.LogicalName, name)
	case oc.Type != c.Type:
		return nil, errorf(CodeInvalidValue, "Condition for attribute '%s.%s': valueof %s is of another type.", sc.table.LogicalName, c.LogicalName, other)
	}
	var x eventual.Expr = eventual.Compare{Op: cmp, Left: f, Right: target.field(oc)}
	if target != sc && target.filter != nil {
		x = eventual.And{Left: target.filter, Right: x}
	}
	return x, nil
}

func containsTarget(c *eventual.Column, table string) bool {
	for _, t := range c.Targets {
		if t == table {
			return true
		}
	}
	return false
}

// value converts a condition's text to a value of the column's type, as
// FetchXML writes values: numbers as text, booleans as 0/1 or
// true/false, GUIDs with or without braces, dates in ISO 8601.
func (p *parser) value(t *eventual.Table, c *eventual.Column, op, text string) (any, error) {
	s := eventual.Scalar{Kind: eventual.ScalarString, Text: text, Form: eventual.FormLiteral}
	switch {
	case c.Type.IsText():
	case c.Type.IsNumeric():
		s.Kind, s.Text = eventual.ScalarNumber, strings.TrimSpace(text)
	case c.Type == eventual.TypeBoolean:
		s.Kind = eventual.ScalarBool
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "1", "true":
			s.Text = "true"
		case "0", "false":
			s.Text = "false"
		default:
			return nil, badValue(t, c, op, text)
		}
	case c.Type == eventual.TypeDateTime:
		s.Kind, s.Text = eventual.ScalarDateTime, strings.TrimSpace(text)
	case c.Type == eventual.TypeUniqueIdentifier || c.Type.IsLookup():
		id, err := uuid.Parse(strings.Trim(strings.TrimSpace(text), "{}"))
		if err != nil {
			return nil, badValue(t, c, op, text)
		}
		s.Kind, s.Text = eventual.ScalarGUID, id.String()
	}
	v, err := eventual.ConvertScalar(c, s)
	if err != nil {
		return nil, badValue(t, c, op, text)
	}
	if ref, ok := v.(eventual.EntityReference); ok && ref.Table == nil && len(c.Targets) == 1 {
		ref.Table = p.schema.Table(c.Targets[0])
		v = ref
	}
	return v, nil
}

func badValue(t *eventual.Table, c *eventual.Column, op, text string) error {
	return errorf(CodeInvalidValue, "Condition for attribute '%s.%s': the value '%s' of operator '%s' is not a valid %s.", t.LogicalName, c.LogicalName, text, op, c.Type)
}
