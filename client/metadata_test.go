package client

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// liveMetadata serves the Web API over a SQLite store on loopback (the
// metadata does not depend on the store) and returns its client.
func liveMetadata(t *testing.T) *Client {
	t.Helper()
	r, _, _ := liveRecords(t, teststore.SQLite)
	return r.c
}

func TestWhoAmI(t *testing.T) {
	c := liveMetadata(t)
	w, err := c.WhoAmI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if w.UserID == uuid.Nil || w.BusinessUnitID == uuid.Nil || w.OrganizationID == uuid.Nil {
		t.Errorf("WhoAmI = %+v, want three ids", w)
	}
	again, err := c.WhoAmI(context.Background())
	if err != nil || again != w {
		t.Errorf("second WhoAmI = %+v, %v; want %+v", again, err, w)
	}
}

func TestKeys(t *testing.T) {
	c := liveMetadata(t)
	builtin := metadata.Builtin()
	for _, table := range []string{"account", "contact"} {
		keys, err := c.Keys(context.Background(), table)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var want []KeyDefinition
		for _, k := range builtin.Table(table).Keys {
			want = append(want, KeyDefinition{LogicalName: k.LogicalName, SchemaName: k.LogicalName, KeyAttributes: k.ColumnNames(), IndexStatus: "Active"})
		}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("Keys(%s) = %+v, want %+v", table, keys, want)
		}
	}
}

func TestMetadataErrors(t *testing.T) {
	ctx := context.Background()
	c := liveMetadata(t)
	if _, err := c.Keys(ctx, "nosuchtable"); !IsNotFound(err) {
		t.Errorf("Keys of an unknown table: %v, want not found", err)
	}
	if _, err := c.TableDefinition(ctx, "nosuchtable"); !IsNotFound(err) {
		t.Errorf("TableDefinition of an unknown table: %v, want not found", err)
	}
	if _, err := DiscoverSchema(ctx, c, "account", "nosuchtable"); !IsNotFound(err) {
		t.Errorf("DiscoverSchema with an unknown table: %v, want not found", err)
	}
	if _, err := c.Keys(ctx, "x') or ('"); eventual.ErrorKind(err) != eventual.KindInvalid {
		t.Errorf("Keys of a malformed name: %v, want invalid", err)
	}
	if _, err := DiscoverSchema(ctx, c); eventual.ErrorKind(err) != eventual.KindInvalid {
		t.Errorf("DiscoverSchema of no table: %v, want invalid", err)
	}
}

func TestTableDefinition(t *testing.T) {
	c := liveMetadata(t)
	td, err := c.TableDefinition(context.Background(), "contact")
	if err != nil {
		t.Fatal(err)
	}
	if td.LogicalName != "contact" || td.EntitySetName != "contacts" || td.PrimaryIDAttribute != "contactid" ||
		td.PrimaryNameAttribute != "fullname" || !td.ChangeTrackingEnabled || td.DisplayName != "Contact" {
		t.Errorf("contact's definition = %+v", td)
	}
	attrs := map[string]AttributeDefinition{}
	for _, a := range td.Attributes {
		attrs[a.LogicalName] = a
	}
	if a := attrs["parentcustomerid"]; a.AttributeType != "Customer" || !reflect.DeepEqual(a.Targets, []string{"account", "contact"}) {
		t.Errorf("parentcustomerid = %+v", a)
	}
	if a := attrs["birthdate"]; a.AttributeType != "DateTime" || a.Format != "DateOnly" {
		t.Errorf("birthdate = %+v", a)
	}
	if a := attrs["statuscode"]; a.AttributeType != "Status" || len(a.Options) != 2 {
		t.Errorf("statuscode = %+v", a)
	}
	if a := attrs["fullname"]; a.IsValidForCreate || a.IsValidForUpdate || !a.IsPrimaryName || *a.MaxLength != 160 {
		t.Errorf("fullname = %+v", a)
	}
	var rels []string
	for _, r := range td.ManyToOneRelationships {
		rels = append(rels, fmt.Sprintf("%s %s.%s→%s.%s nav %s", r.SchemaName, r.ReferencingEntity, r.ReferencingAttribute, r.ReferencedEntity, r.ReferencedAttribute, r.ReferencingEntityNavigationPropertyName))
	}
	want := []string{
		"contact_customer_accounts contact.parentcustomerid→account.accountid nav parentcustomerid_account",
		"contact_customer_contacts contact.parentcustomerid→contact.contactid nav parentcustomerid_contact",
		"lk_contactbase_createdby contact.createdby→systemuser.systemuserid nav createdby",
		"lk_contactbase_modifiedby contact.modifiedby→systemuser.systemuserid nav modifiedby",
		"owner_contacts contact.ownerid→systemuser.systemuserid nav ownerid",
	}
	if !reflect.DeepEqual(rels, want) {
		t.Errorf("contact's many-to-one relationships =\n%s\nwant\n%s", strings.Join(rels, "\n"), strings.Join(want, "\n"))
	}
}

// TestEnumOptionsCast reads options the way Dataverse requires (a cast of
// Attributes with $expand=OptionSet), which TableDefinition needs only
// when the expanded attributes carry no OptionSet.
func TestEnumOptionsCast(t *testing.T) {
	c := liveMetadata(t)
	opts, err := c.enumOptions(context.Background(), "account", "PicklistAttributeMetadata")
	if err != nil {
		t.Fatal(err)
	}
	want := []OptionDefinition{{Value: 1, Label: "Preferred Customer"}, {Value: 2, Label: "Standard"}}
	if got := opts["accountcategorycode"]; !reflect.DeepEqual(got, want) {
		t.Errorf("accountcategorycode options = %+v, want %+v", got, want)
	}
	if _, ok := opts["name"]; ok {
		t.Errorf("the cast to PicklistAttributeMetadata kept the string column name")
	}
	state, err := c.enumOptions(context.Background(), "account", "StateAttributeMetadata")
	if err != nil || len(state["statecode"]) != 2 {
		t.Errorf("state options = %+v, %v", state, err)
	}
}

func TestDiscoverSchemaMatchesBuiltin(t *testing.T) {
	c := liveMetadata(t)
	got, err := DiscoverSchema(context.Background(), c, "account", "contact")
	if err != nil {
		t.Fatal(err)
	}
	// Without systemuser among the tables, neither side has the user
	// stamps (createdby, modifiedby, ownerid): discovery leaves them to
	// the schema builder, which adds them only with systemuser.
	want, err := eventual.NewSchema(metadata.BuiltinTables())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Tables()); n != 2 {
		t.Fatalf("discovered %d tables, want 2", n)
	}
	for _, name := range []string{"account", "contact"} {
		if diff := tableDiff(got.Table(name), want.Table(name)); diff != "" {
			t.Errorf("table %s differs from the built-in one:\n%s", name, diff)
		}
	}
}

// tableDiff lists the differences between two tables, field by field:
// the table's own fields, columns, keys and many-to-one relationships.
func tableDiff(got, want *eventual.Table) string {
	var b strings.Builder
	diff := func(what string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			fmt.Fprintf(&b, "  %s:\n    got  %+v\n    want %+v\n", what, g, w)
		}
	}
	type tableFields struct {
		LogicalName, SchemaName, EntitySetName, DisplayName, DisplayCollectionName string
		PrimaryIDAttribute, PrimaryNameAttribute                                   string
		ObjectTypeCode                                                             int
		IsCustom, ChangeTracking                                                   bool
	}
	fields := func(t *eventual.Table) tableFields {
		return tableFields{t.LogicalName, t.SchemaName, t.EntitySetName, t.DisplayName, t.DisplayCollectionName,
			t.PrimaryIDAttribute, t.PrimaryNameAttribute, t.ObjectTypeCode, t.IsCustom, t.ChangeTracking}
	}
	diff("table", fields(got), fields(want))
	diff("column names", columnNames(got), columnNames(want))
	for _, wc := range want.Columns {
		if gc := got.Column(wc.LogicalName); gc != nil {
			diff("column "+wc.LogicalName, columnFields(gc), columnFields(wc))
		}
	}
	keys := func(t *eventual.Table) (out []string) {
		for _, k := range t.Keys {
			out = append(out, k.LogicalName+"("+strings.Join(k.ColumnNames(), ",")+")")
		}
		return out
	}
	diff("keys", keys(got), keys(want))
	rels := func(t *eventual.Table) (out []string) {
		for _, r := range t.ManyToOne() {
			out = append(out, fmt.Sprintf("%s %s.%s→%s via %s/%s", r.SchemaName, r.ReferencingTable.LogicalName, r.Lookup.LogicalName,
				r.ReferencedTable.LogicalName, r.ReferencingNavigation, r.ReferencedNavigation))
		}
		return out
	}
	diff("many-to-one relationships", rels(got), rels(want))
	return b.String()
}

func columnNames(t *eventual.Table) []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.LogicalName
	}
	return out
}

// columnFields is a column's exported fields, without its table.
func columnFields(c *eventual.Column) eventual.Column {
	return eventual.Column{
		LogicalName: c.LogicalName, SchemaName: c.SchemaName, DisplayName: c.DisplayName, Type: c.Type,
		MaxLength: c.MaxLength, Precision: c.Precision, MinValue: c.MinValue, MaxValue: c.MaxValue,
		Format: c.Format, Options: c.Options, Targets: c.Targets, Required: c.Required,
		System: c.System, Computed: c.Computed, Default: c.Default,
	}
}

func TestDiscoveredSchemaRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := liveMetadata(t)
	schema, err := DiscoverSchema(ctx, c, "account", "contact")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecords(c, schema)
	acc, con := schema.Table("account"), schema.Table("contact")
	aid, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{
		"name": "Contoso", "accountnumber": "C-1", "revenue": "1250.5", "accountcategorycode": int64(2), "creditonhold": true}})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	byNumber := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"C-1"}}
	cid, err := r.Create(ctx, &eventual.Entity{Table: con, Values: eventual.Values{
		"firstname": "Ana", "lastname": "Lima", "birthdate": "1990-04-05", "parentcustomerid": byNumber}})
	if err != nil {
		t.Fatalf("create contact: %v", err)
	}
	arec, err := r.Retrieve(ctx, byNumber, nil, nil, "")
	if err != nil {
		t.Fatalf("retrieve account by key: %v", err)
	}
	if arec.ID != aid || arec.Values["name"] != "Contoso" || arec.Values["accountcategorycode"] != int64(2) || arec.Values["creditonhold"] != true {
		t.Errorf("account = %v %+v", arec.ID, arec.Values)
	}
	// A customer lookup reads back with its table (Records asks for the
	// lookuplogicalname annotation).
	crec, err := r.Retrieve(ctx, eventual.Ref(con, cid), nil, nil, "")
	if err != nil {
		t.Fatalf("retrieve contact: %v", err)
	}
	ref, _ := crec.Values["parentcustomerid"].(eventual.EntityReference)
	if ref.ID != aid || ref.Table != acc {
		t.Errorf("contact's parentcustomerid = %+v, want account %v", crec.Values["parentcustomerid"], aid)
	}
	if crec.Values["fullname"] != "Ana Lima" || crec.Values["lastname"] != "Lima" {
		t.Errorf("contact = %+v", crec.Values)
	}
	if d := fmt.Sprint(crec.Values["birthdate"]); !strings.HasPrefix(d, "1990-04-05") {
		t.Errorf("contact's birthdate = %s, want 1990-04-05", d)
	}
	// A single-target lookup decodes without the annotation.
	if _, err := r.Update(ctx, eventual.Ref(acc, aid), eventual.Values{"primarycontactid": eventual.Ref(con, cid)}, eventual.Condition{}); err != nil {
		t.Fatalf("update account: %v", err)
	}
	arec, err = r.Retrieve(ctx, eventual.Ref(acc, aid), []*eventual.Column{acc.Column("primarycontactid")}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if ref, _ := arec.Values["primarycontactid"].(eventual.EntityReference); ref.ID != cid || ref.Table != con {
		t.Errorf("account's primarycontactid = %+v, want contact %v", arec.Values["primarycontactid"], cid)
	}
}

func intp(v int) *int           { return &v }
func floatp(v float64) *float64 { return &v }

// columnDefCases are TestColumnDef's cases, one AttributeType (or
// variant) each.
var columnDefCases = []struct {
	name string
	in   AttributeDefinition
	want eventual.ColumnDef
	skip string // a part of the reason, for a column left out
	note string // a part of the note, when one is expected
}{
	{name: "String", in: AttributeDefinition{AttributeType: "String", MaxLength: intp(20), IsValidForCreate: true, IsValidForUpdate: true, RequiredLevel: "ApplicationRequired"},
		want: eventual.ColumnDef{Type: eventual.TypeString, MaxLength: 20, Required: true}},
	{name: "String computed", in: AttributeDefinition{AttributeType: "String", MaxLength: intp(160)},
		want: eventual.ColumnDef{Type: eventual.TypeString, MaxLength: 160, Computed: true}},
	{name: "Memo", in: AttributeDefinition{AttributeType: "Memo", MaxLength: intp(2000), IsValidForCreate: true, RequiredLevel: "Recommended"},
		want: eventual.ColumnDef{Type: eventual.TypeMemo, MaxLength: 2000}},
	{name: "Integer default range", in: AttributeDefinition{AttributeType: "Integer", MinValue: floatp(-2147483648), MaxValue: floatp(2147483647)},
		want: eventual.ColumnDef{Type: eventual.TypeInteger}},
	{name: "Integer narrowed", in: AttributeDefinition{AttributeType: "Integer", MinValue: floatp(0), MaxValue: floatp(1000000)},
		want: eventual.ColumnDef{Type: eventual.TypeInteger, MinValue: floatp(0), MaxValue: floatp(1000000)}},
	{name: "BigInt", in: AttributeDefinition{AttributeType: "BigInt", MinValue: floatp(-9223372036854775808), MaxValue: floatp(9223372036854775807)},
		want: eventual.ColumnDef{Type: eventual.TypeBigInt}},
	{name: "Decimal", in: AttributeDefinition{AttributeType: "Decimal", Precision: intp(4), MinValue: floatp(-100000000000), MaxValue: floatp(100000000000)},
		want: eventual.ColumnDef{Type: eventual.TypeDecimal, Precision: intp(4)}},
	{name: "Decimal clamped", in: AttributeDefinition{AttributeType: "Decimal", Precision: intp(10), MinValue: floatp(-100000000000), MaxValue: floatp(100000000000)},
		want: eventual.ColumnDef{Type: eventual.TypeDecimal, Precision: intp(10)}, note: "range narrowed"},
	{name: "Decimal precision out of range", in: AttributeDefinition{AttributeType: "Decimal", Precision: intp(12)}, skip: "precision"},
	{name: "Money", in: AttributeDefinition{AttributeType: "Money", Precision: intp(2)},
		want: eventual.ColumnDef{Type: eventual.TypeMoney, Precision: intp(2)}},
	{name: "Double", in: AttributeDefinition{AttributeType: "Double", Precision: intp(2), MinValue: floatp(0), MaxValue: floatp(1000)},
		want: eventual.ColumnDef{Type: eventual.TypeDouble, Precision: intp(2), MinValue: floatp(0), MaxValue: floatp(1000)}},
	{name: "Boolean", in: AttributeDefinition{AttributeType: "Boolean"}, want: eventual.ColumnDef{Type: eventual.TypeBoolean}},
	{name: "DateTime", in: AttributeDefinition{AttributeType: "DateTime", Format: "DateAndTime", DateTimeBehavior: "UserLocal"},
		want: eventual.ColumnDef{Type: eventual.TypeDateTime, Format: eventual.DateAndTime}},
	{name: "DateTime date only", in: AttributeDefinition{AttributeType: "DateTime", Format: "DateOnly", DateTimeBehavior: "DateOnly"},
		want: eventual.ColumnDef{Type: eventual.TypeDateTime, Format: eventual.DateOnly}},
	{name: "DateTime date only, no behavior", in: AttributeDefinition{AttributeType: "DateTime", Format: "DateOnly"},
		want: eventual.ColumnDef{Type: eventual.TypeDateTime, Format: eventual.DateOnly}},
	{name: "DateTime user local date", in: AttributeDefinition{AttributeType: "DateTime", Format: "DateOnly", DateTimeBehavior: "UserLocal"},
		want: eventual.ColumnDef{Type: eventual.TypeDateTime, Format: eventual.DateAndTime}, note: "travel as date-times"},
	{name: "DateTime time zone independent", in: AttributeDefinition{AttributeType: "DateTime", Format: "DateAndTime", DateTimeBehavior: "TimeZoneIndependent"},
		want: eventual.ColumnDef{Type: eventual.TypeDateTime, Format: eventual.DateAndTime}},
	{name: "Uniqueidentifier", in: AttributeDefinition{AttributeType: "Uniqueidentifier"}, want: eventual.ColumnDef{Type: eventual.TypeUniqueIdentifier}},
	{name: "Lookup", in: AttributeDefinition{LogicalName: "primarycontactid", AttributeType: "Lookup", Targets: []string{"contact"}},
		want: eventual.ColumnDef{LogicalName: "primarycontactid", Type: eventual.TypeLookup, Targets: []string{"contact"}, Relationships: []string{""}}},
	{name: "Lookup custom navigation", in: AttributeDefinition{LogicalName: "new_customer", AttributeType: "Lookup", Targets: []string{"account"}},
		want: eventual.ColumnDef{LogicalName: "new_customer", Type: eventual.TypeLookup, Targets: []string{"account"}, Relationships: []string{"new_account_new_order"}},
		note: `"new_Customer"`},
	{name: "Lookup to an unknown table", in: AttributeDefinition{AttributeType: "Lookup", Targets: []string{"transactioncurrency"}}, skip: "not among the discovered tables"},
	{name: "Lookup multi-table", in: AttributeDefinition{LogicalName: "new_party", AttributeType: "Lookup", Targets: []string{"account", "contact"}},
		want: eventual.ColumnDef{LogicalName: "new_party", Type: eventual.TypeCustomer, Targets: []string{"account", "contact"}, Relationships: []string{"", ""}}},
	{name: "Customer", in: AttributeDefinition{LogicalName: "parentcustomerid", AttributeType: "Customer", Targets: []string{"account", "lead"}},
		want: eventual.ColumnDef{LogicalName: "parentcustomerid", Type: eventual.TypeCustomer, Targets: []string{"account"}, Relationships: []string{"contact_customer_accounts"}},
		note: "[lead] are not among"},
	{name: "Owner", in: AttributeDefinition{AttributeType: "Owner", Targets: []string{"systemuser", "team"}}, skip: "not among the discovered tables"},
	{name: "Picklist", in: AttributeDefinition{AttributeType: "Picklist", Options: []OptionDefinition{{Value: 1, Label: "One"}}},
		want: eventual.ColumnDef{Type: eventual.TypeChoice, Options: []eventual.Option{{Value: 1, Label: "One"}}}},
	{name: "Picklist without options", in: AttributeDefinition{AttributeType: "Picklist"}, skip: "without options"},
	{name: "EntityName", in: AttributeDefinition{AttributeType: "EntityName"}, skip: "EntityName"},
	{name: "Virtual", in: AttributeDefinition{AttributeType: "Virtual", AttributeTypeName: "MultiSelectPicklistType"}, skip: "virtual"},
	{name: "PartyList", in: AttributeDefinition{AttributeType: "PartyList"}, skip: "activity parties"},
	{name: "unknown type", in: AttributeDefinition{AttributeType: "Spatial"}, skip: `"Spatial" is not supported`},
	{name: "AttributeOf", in: AttributeDefinition{AttributeType: "String", AttributeOf: "primarycontactid"}, skip: "describes column primarycontactid"},
}

// TestColumnDef maps Dataverse attribute definitions onto column
// definitions, one AttributeType (or variant) a case.
func TestColumnDef(t *testing.T) {
	known := map[string]bool{"account": true, "contact": true}
	rels := map[string]RelationshipDefinition{
		"parentcustomerid→account": {SchemaName: "contact_customer_accounts", ReferencingEntityNavigationPropertyName: "parentcustomerid_account"},
		"new_customer→account":     {SchemaName: "new_account_new_order", ReferencingEntityNavigationPropertyName: "new_Customer"},
	}
	for _, tc := range columnDefCases {
		t.Run(tc.name, func(t *testing.T) {
			var notes []string
			note := func(_, format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
			got, why := columnDef(tc.in, known, rels, note)
			if tc.skip != "" {
				if !strings.Contains(why, tc.skip) {
					t.Errorf("reason = %q, want it left out for %q", why, tc.skip)
				}
				return
			}
			if why != "" {
				t.Fatalf("left out: %s", why)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("columnDef =\n  %+v\nwant\n  %+v", got, tc.want)
			}
			if all := strings.Join(notes, "; "); tc.note == "" && all != "" || !strings.Contains(all, tc.note) {
				t.Errorf("notes = %q, want %q", all, tc.note)
			}
		})
	}
}

// TestAttributeTypesCovered checks that every column type is reachable
// from some AttributeType.
func TestAttributeTypesCovered(t *testing.T) {
	reached := map[eventual.ColumnType]bool{}
	for _, e := range AttributeTypes {
		if (e.Type == "") == (e.Why == "") {
			t.Errorf("%s: give a type or a reason, not both or neither", e.AttributeType)
		}
		reached[e.Type] = true
	}
	for _, ct := range eventual.ColumnTypes {
		if !reached[ct] {
			t.Errorf("column type %s is reached by no AttributeType", ct)
		}
	}
}

// TestTableDefs converts a Dataverse-like definition: system columns
// are left to the builder but keep their options, keys over left-out
// columns or inactive indexes are dropped with a note.
func TestTableDefs(t *testing.T) {
	zero, one := int64(0), int64(1)
	td := &TableDefinition{
		LogicalName: "new_thing", SchemaName: "new_Thing", EntitySetName: "new_things", PrimaryIDAttribute: "new_thingid",
		PrimaryNameAttribute: "new_name", IsCustomEntity: true,
		Attributes: []AttributeDefinition{
			{LogicalName: "new_thingid", AttributeType: "Uniqueidentifier", IsPrimaryID: true},
			{LogicalName: "new_name", AttributeType: "String", MaxLength: intp(100), IsValidForCreate: true, IsValidForUpdate: true},
			{LogicalName: "new_code", AttributeType: "String", MaxLength: intp(20), IsValidForCreate: true, IsValidForUpdate: true},
			{LogicalName: "new_photo", AttributeType: "Virtual", AttributeTypeName: "ImageType"},
			{LogicalName: "ownerid", AttributeType: "Owner", Targets: []string{"systemuser", "team"}},
			{LogicalName: "statecode", AttributeType: "State", Options: []OptionDefinition{{Value: 0, Label: "Open", DefaultStatus: &one}, {Value: 1, Label: "Closed", DefaultStatus: &zero}}},
			{LogicalName: "statuscode", AttributeType: "Status", Options: []OptionDefinition{{Value: 1, Label: "New"}, {Value: 2, Label: "Done"}}},
		},
		Keys: []KeyDefinition{
			{LogicalName: "new_code_key", KeyAttributes: []string{"new_code"}, IndexStatus: "Active"},
			{LogicalName: "new_pending_key", KeyAttributes: []string{"new_name"}, IndexStatus: "Pending"},
			{LogicalName: "new_photo_key", KeyAttributes: []string{"new_photo"}, IndexStatus: "Active"},
		},
	}
	defs, notes, err := TableDefs([]*TableDefinition{td})
	if err != nil {
		t.Fatal(err)
	}
	d := defs[0]
	var cols []string
	for _, c := range d.Columns {
		cols = append(cols, c.LogicalName)
	}
	if !reflect.DeepEqual(cols, []string{"new_name", "new_code"}) {
		t.Errorf("columns = %v, want new_name, new_code", cols)
	}
	if !reflect.DeepEqual(d.Keys, []eventual.KeyDef{{LogicalName: "new_code_key", Columns: []string{"new_code"}}}) {
		t.Errorf("keys = %+v", d.Keys)
	}
	if !reflect.DeepEqual(d.StateOptions, []eventual.Option{{Value: 0, Label: "Open"}, {Value: 1, Label: "Closed"}}) ||
		len(d.StatusOptions) != 2 || d.DefaultStatus == nil || *d.DefaultStatus != 1 {
		t.Errorf("state %+v status %+v default status %v", d.StateOptions, d.StatusOptions, d.DefaultStatus)
	}
	var got []string
	for _, n := range notes {
		got = append(got, n.Name)
	}
	// ownerid is a user stamp, left to the schema builder: no note.
	if want := []string{"new_photo", "new_pending_key", "new_photo_key"}; !reflect.DeepEqual(got, want) {
		t.Errorf("notes on %v, want %v: %v", got, want, notes)
	}
	if _, err := eventual.NewSchema(defs); err != nil {
		t.Errorf("the definitions do not build: %v", err)
	}

	bad := *td
	bad.PrimaryIDAttribute = "activityid"
	if _, _, err := TableDefs([]*TableDefinition{&bad}); err == nil || !strings.Contains(err.Error(), "primary key") {
		t.Errorf("a primary key other than <table>id: %v", err)
	}
	bad = *td
	bad.PrimaryNameAttribute = "new_photo"
	if _, _, err := TableDefs([]*TableDefinition{&bad}); err == nil || !strings.Contains(err.Error(), "primary name") {
		t.Errorf("a primary name of an unsupported type: %v", err)
	}
}

// TestTableDiff checks that the comparison of the discovery test reports
// differences.
func TestTableDiff(t *testing.T) {
	s := metadata.Builtin()
	if d := tableDiff(s.Table("account"), s.Table("account")); d != "" {
		t.Errorf("a table differs from itself:\n%s", d)
	}
	d := tableDiff(s.Table("contact"), s.Table("account"))
	for _, part := range []string{"table:", "column names:", "keys:", "many-to-one relationships:"} {
		if !strings.Contains(d, part) {
			t.Errorf("the diff of contact and account does not report %q:\n%s", part, d)
		}
	}
}

// TestDiscoverDefinitionsNotes: the built-in account and contact carry
// over whole; account alone loses its lookup to contact, with a note,
// and keeps the one to itself.
func TestDiscoverDefinitionsNotes(t *testing.T) {
	ctx := context.Background()
	c := liveMetadata(t)
	if _, notes, err := DiscoverDefinitions(ctx, c, "account", "contact"); err != nil || len(notes) != 0 {
		t.Errorf("account, contact: notes %v, %v; want none", notes, err)
	}
	defs, notes, err := DiscoverDefinitions(ctx, c, "account")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Name != "primarycontactid" || !strings.Contains(notes[0].String(), "account.primarycontactid: left out") {
		t.Errorf("account alone: notes %v, want one on primarycontactid", notes)
	}
	s, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatal(err)
	}
	acc := s.Table("account")
	if acc.Column("primarycontactid") != nil || acc.Column("parentaccountid").RelationshipTo("account").SchemaName != "account_parent_account" {
		t.Errorf("account alone: primarycontactid %v, parentaccountid %+v", acc.Column("primarycontactid"), acc.Column("parentaccountid"))
	}
}
