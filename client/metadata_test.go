package client

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
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
	want := metadata.Builtin()
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
	// Records.Retrieve does not ask for the lookuplogicalname annotation,
	// which names the table of a customer lookup's value: read the contact
	// with it and decode it with the discovered table.
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "contacts(" + cid.String() + ")",
		Header: http.Header{"Prefer": {`odata.include-annotations="` + codec.AnnotationLookupTable + `"`}}})
	if err != nil {
		t.Fatalf("retrieve contact: %v", err)
	}
	crec, err := codec.DecodeRecord(con, resp.Body)
	if err != nil {
		t.Fatalf("decode contact: %v", err)
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
