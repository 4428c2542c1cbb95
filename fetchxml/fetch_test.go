package fetchxml_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/fetchxml"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

var (
	schema = metadata.Builtin()
	env    = fetchxml.Env{Now: time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC), UserID: uuid.MustParse("5b0ab1c3-0000-4000-8000-00000000a11c")}
)

func col(table, name string) *eventual.Column { return schema.Table(table).Column(name) }

func field(table, name string, path ...*eventual.Relationship) eventual.Field {
	return eventual.Field{Path: path, Column: col(table, name)}
}

func lit(v any) eventual.Literal { return eventual.Literal{Value: v} }

// TestParse: what a query becomes, in the IR $filter binds to.
func TestParse(t *testing.T) {
	acc := schema.Table("account")
	parent := col("contact", "parentcustomerid").RelationshipTo("account")
	primary := col("account", "primarycontactid").RelationshipTo("contact")
	for _, tc := range []struct {
		name, xml string
		cols      []*eventual.Column
		filter    eventual.Expr
		order     []eventual.Order
		links     int
	}{
		{"no attribute: every column (select-columns.md)", `<fetch><entity name="account"/></fetch>`, nil, nil, nil, 0},
		{"all-attributes", `<fetch><entity name="account"><all-attributes/></entity></fetch>`, nil, nil, nil, 0},
		{"attributes once each", `<fetch><entity name="account"><attribute name="name"/><attribute name="name"/><attribute name="revenue"/></entity></fetch>`,
			[]*eventual.Column{col("account", "name"), col("account", "revenue")}, nil, nil, 0},
		{"and of conditions, order", `<fetch><entity name="account"><attribute name="name"/><order attribute="name" descending="true"/><filter><condition attribute="numberofemployees" operator="ge" value=" 5 "/><condition attribute="creditonhold" operator="eq" value="0"/></filter></entity></fetch>`,
			[]*eventual.Column{col("account", "name")},
			eventual.And{Left: eventual.Compare{Op: eventual.OpGe, Left: field("account", "numberofemployees"), Right: lit(int64(5))},
				Right: eventual.Compare{Op: eventual.OpEq, Left: field("account", "creditonhold"), Right: lit(false)}},
			[]eventual.Order{{Column: col("account", "name"), Desc: true}}, 0},
		{"or, not-null, not-in", `<fetch><entity name="account"><filter type="or"><condition attribute="telephone1" operator="not-null"/><condition attribute="name" operator="not-in"><value>a</value><value>b</value></condition></filter></entity></fetch>`,
			nil,
			eventual.Or{Left: eventual.Compare{Op: eventual.OpNe, Left: field("account", "telephone1"), Right: lit(nil)},
				Right: eventual.In{Field: field("account", "name"), Values: []any{"a", "b"}, Not: true}}, nil, 0},
		{"begins-with takes the SDK's trailing wildcard", `<fetch><entity name="account"><filter><condition attribute="name" operator="begins-with" value="Con%"/></filter></entity></fetch>`,
			nil, eventual.Match{Kind: eventual.MatchStartsWith, Field: field("account", "name"), Pattern: "Con"}, nil, 0},
		{"valueof", `<fetch><entity name="account"><filter><condition attribute="name" operator="ne" valueof="accountnumber"/></filter></entity></fetch>`,
			nil, eventual.Compare{Op: eventual.OpNe, Left: field("account", "name"), Right: field("account", "accountnumber")}, nil, 0},
		{"inner many-to-one link: an exists through the path", `<fetch><entity name="account"><link-entity name="contact" from="contactid" to="primarycontactid"><filter><condition attribute="lastname" operator="eq" value="X"/></filter></link-entity></entity></fetch>`,
			nil,
			eventual.And{Left: eventual.Compare{Op: eventual.OpNe, Left: field("account", "primarycontactid"), Right: lit(nil)},
				Right: eventual.Compare{Op: eventual.OpEq, Left: field("contact", "lastname", primary), Right: lit("X")}}, nil, 0},
		{"inner one-to-many link: any", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid"><attribute name="lastname"/></link-entity></entity></fetch>`,
			nil, eventual.Any{Relationship: parent}, nil, 1},
		{"outer link: no filter", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer"><attribute name="lastname"/></link-entity></entity></fetch>`,
			nil, nil, nil, 1},
		{"not any", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="not any"/></entity></fetch>`,
			nil, eventual.Not{X: eventual.Any{Relationship: parent}}, nil, 0},
		{"eq-userid", `<fetch><entity name="account"><filter><condition attribute="ownerid" operator="eq-userid"/></filter></entity></fetch>`,
			nil, eventual.Compare{Op: eventual.OpEq, Left: field("account", "ownerid"), Right: lit(eventual.Ref(schema.Table("systemuser"), env.UserID))}, nil, 0},
		{"today", `<fetch><entity name="account"><filter><condition attribute="createdon" operator="today"/></filter></entity></fetch>`,
			nil,
			eventual.And{Left: eventual.Compare{Op: eventual.OpGe, Left: field("account", "createdon"), Right: lit(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))},
				Right: eventual.Compare{Op: eventual.OpLt, Left: field("account", "createdon"), Right: lit(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))}}, nil, 0},
	} {
		f, err := fetchxml.Parse(tc.xml, schema, env)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if f.Query.Table != acc || !reflect.DeepEqual(f.Query.Columns, tc.cols) || !reflect.DeepEqual(f.Query.Filter, tc.filter) ||
			!reflect.DeepEqual(f.Query.OrderBy, tc.order) || len(f.Links) != tc.links {
			t.Errorf("%s:\ncolumns %v\nfilter  %#v\norder   %v\nlinks   %d\nwant\ncolumns %v\nfilter  %#v\norder   %v\nlinks   %d",
				tc.name, f.Query.Columns, f.Query.Filter, f.Query.OrderBy, len(f.Links), tc.cols, tc.filter, tc.order, tc.links)
		}
	}
}

// TestParseLinks: link-entities with columns, their aliases (given, or
// generated per table in document order) and nesting.
func TestParseLinks(t *testing.T) {
	f, err := fetchxml.Parse(`<fetch><entity name="contact"><link-entity name="account" from="accountid" to="parentcustomerid"><attribute name="name"/>`+
		`<link-entity name="contact" from="contactid" to="primarycontactid" alias="pc" link-type="outer"><all-attributes/></link-entity></link-entity>`+
		`<link-entity name="account" from="accountid" to="parentcustomerid" link-type="outer"><attribute name="revenue"/></link-entity></entity></fetch>`, schema, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Links) != 2 || f.Links[0].Alias != "account1" || f.Links[1].Alias != "account2" || f.Links[0].Collection ||
		len(f.Links[0].Links) != 1 || f.Links[0].Links[0].Alias != "pc" || f.Links[0].Links[0].Columns != nil || !f.Links[0].Links[0].Outer {
		t.Errorf("links: %+v", f.Links)
	}
	if f.Links[0].Relationship != col("contact", "parentcustomerid").RelationshipTo("account") {
		t.Errorf("relationship %v", f.Links[0].Relationship)
	}
}

// TestParseErrors: each malformed query is refused with its code.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ xml, code, part string }{
		{``, fetchxml.CodeInvalidXML, "empty"},
		{`<fetch><entity name="account"></fetch>`, fetchxml.CodeInvalidXML, "Invalid XML"},
		{`<fetch><entity name="account"/><entity name="contact"/></fetch>`, fetchxml.CodeInvalidNode, "one <entity>"},
		{`<fetch/><fetch/>`, fetchxml.CodeInvalidXML, "more than one root"},
		{`<fetch><entity name="nosuch"/></fetch>`, fetchxml.CodeNoEntity, "nosuch"},
		{`<fetch><entity name="account"><attribute name="x"/></entity></fetch>`, fetchxml.CodeNoAttribute, "'x'"},
		{`<fetch><entity name="account"><order attribute="x"/></entity></fetch>`, fetchxml.CodeNoAttribute, "'x'"},
		{`<fetch><entity name="account"><filter type="xor"/></entity></fetch>`, fetchxml.CodeInvalidFilterType, "xor"},
		{`<fetch><entity name="account"><filter><condition attribute="name" operator="eq" value="a" extra="1"/></filter></entity></fetch>`, fetchxml.CodeInvalidNode, "extra"},
		{`<fetch><entity name="account"><filter><condition attribute="name" operator="null" value="a"/></filter></entity></fetch>`, fetchxml.CodeInvalidConditionOperator, "takes no value"},
		{`<fetch><entity name="account"><filter><condition attribute="revenue" operator="like" value="1"/></filter></entity></fetch>`, fetchxml.CodeInvalidConditionOperator, "text columns"},
		{`<fetch><entity name="account"><filter><condition attribute="name" operator="today"/></filter></entity></fetch>`, fetchxml.CodeInvalidConditionOperator, "date and time"},
		{`<fetch><entity name="account"><filter><condition attribute="createdon" operator="last-x-days" value="-1"/></filter></entity></fetch>`, fetchxml.CodeInvalidValue, "whole number"},
		{`<fetch><entity name="account"><filter><condition attribute="accountid" operator="eq" value="not-a-guid"/></filter></entity></fetch>`, fetchxml.CodeInvalidValue, "not-a-guid"},
		{`<fetch><entity name="account"><filter><condition attribute="creditonhold" operator="eq" value="maybe"/></filter></entity></fetch>`, fetchxml.CodeInvalidValue, "maybe"},
		{`<fetch><entity name="account"><filter><condition attribute="revenue" operator="between" value="1"/></filter></entity></fetch>`, fetchxml.CodeInvalidConditionOperator, "two values"},
		{`<fetch count="5001"><entity name="account"/></fetch>`, fetchxml.CodeInvalidValue, "count"},
		{`<fetch top="3" count="2"><entity name="account"/></fetch>`, fetchxml.CodeInvalidNode, "top"},
		{`<fetch><entity name="account"><link-entity name="contact" from="contactid" to="primarycontactid" alias="x"/><link-entity name="contact" from="contactid" to="primarycontactid" alias="x"/></entity></fetch>`, fetchxml.CodeDuplicateAlias, "alias"},
		{`<fetch><entity name="account"><link-entity name="contact" from="contactid" to="primarycontactid" link-type="sideways"/></entity></fetch>`, fetchxml.CodeInvalidLinkType, "sideways"},
		{`<fetch><entity name="account"><x:attribute xmlns:x="urn:x" name="name"/></entity></fetch>`, fetchxml.CodeInvalidNode, "not FetchXML"},
		{strings.Repeat(`<filter>`, 40) + strings.Repeat(`</filter>`, 40), fetchxml.CodeInvalidXML, "deeper"},
		{`<fetch aggregate="true"><entity name="account"/></fetch>`, fetchxml.CodeInvalidAggregateAlias, "aggregate"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="name"/></entity></fetch>`, fetchxml.CodeInvalidAggregateAlias, "alias"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="name" alias="n"/></entity></fetch>`, fetchxml.CodeAttributeWithAggregate, "aggregate or groupby"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="name" alias="n" aggregate="count" groupby="true"/></entity></fetch>`, fetchxml.CodeGroupByAndAggregate, "both"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="name" alias="n" aggregate="sum"/></entity></fetch>`, fetchxml.CodeInvalidAggregateAttribute, "sum"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="name" alias="n" groupby="true" dategrouping="month"/></entity></fetch>`, fetchxml.CodeInvalidDateGrouping, "month"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="accountid" alias="n" aggregate="count"/><order attribute="name"/></entity></fetch>`, fetchxml.CodeAttributeInAggregateOrder, "Use an alias"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="accountid" alias="n" aggregate="count"/><all-attributes/></entity></fetch>`, fetchxml.CodeAttributeWithAggregate, "all-attributes"},
		{`<fetch aggregate="true"><entity name="account"><attribute name="accountid" alias="n" aggregate="count"/><order alias="m"/></entity></fetch>`, fetchxml.CodeInvalidAggregateAlias, "names no attribute"},
		{`<fetch><entity name="account"><attribute name="name" aggregate="count" alias="n"/></entity></fetch>`, fetchxml.CodeInvalidAggregate, "aggregate query"},
	} {
		_, err := fetchxml.Parse(tc.xml, schema, env)
		var e *eventual.Error
		if !errors.As(err, &e) || e.Code != tc.code || !strings.Contains(e.Message, tc.part) {
			t.Errorf("Parse(%.80s) = %v, want code %s mentioning %q", tc.xml, err, tc.code, tc.part)
		}
	}
}
