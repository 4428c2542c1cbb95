package codec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// TestDecodeRecord: a record as the server renders it, with annotations
// and an expanded lookup, back into a Record.
func TestDecodeRecord(t *testing.T) {
	body := fixture(t, "record_order.json")
	orders, accounts := schema.Table("new_order"), schema.Table("account")
	rec, err := codec.DecodeRecord(orders, body)
	if err != nil {
		t.Fatal(err)
	}
	customer := uuid.MustParse("22222222-3333-4444-5555-666666666666")
	if rec.ID != uuid.MustParse("11111111-2222-3333-4444-555555555555") || rec.Version != 4711 {
		t.Errorf("ID, Version = %v, %d", rec.ID, rec.Version)
	}
	want := eventual.Values{
		"new_name":        "Order 1",
		"new_ordernumber": nil,
		"new_customer":    eventual.Ref(accounts, customer),
		"new_amount":      eventual.Decimal{Units: 125000, Scale: 4},
		"new_quantity":    int64(3),
		"new_unitprice":   eventual.Decimal{Units: 41234, Scale: 4},
		"new_weight":      1.5e-07,
		"new_sequence":    int64(9007199254740993),
		"new_orderdate":   time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		"new_shipped":     true,
		"new_externalid":  uuid.MustParse("33333333-4444-5555-6666-777777777777"),
		"new_notes":       `a "note" <b>`,
		"new_stage":       int64(100000001),
	}
	if len(rec.Values) != len(want) {
		t.Errorf("got %d values, want %d: %v", len(rec.Values), len(want), rec.Values)
	}
	for k, w := range want {
		if g, ok := rec.Values[k]; !ok || !eventual.EqualValues(g, w) {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
	if ref := rec.Values["new_customer"].(eventual.EntityReference); ref.Table != accounts {
		t.Errorf("new_customer's table = %v", ref.Table)
	}
	rel := rec.Related["new_customer"]
	if len(rel) != 1 || rel[0].Table != accounts || rel[0].ID != customer || rel[0].Version != 42 || rel[0].Values["name"] != "Contoso" {
		t.Errorf("Related = %#v", rel)
	}
}

// TestDecodeRecordLookupTable: a customer lookup names its table by the
// annotation; without it, only a single-target lookup knows its table.
func TestDecodeRecordLookupTable(t *testing.T) {
	contacts := schema.Table("contact")
	id := "22222222-3333-4444-5555-666666666666"
	rec, err := codec.DecodeRecord(contacts, []byte(`{"_parentcustomerid_value":"`+id+`","_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ref := rec.Values["parentcustomerid"].(eventual.EntityReference); ref.Table != contacts || ref.ID.String() != id {
		t.Errorf("parentcustomerid = %v", ref)
	}
	rec, err = codec.DecodeRecord(contacts, []byte(`{"_parentcustomerid_value":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ref := rec.Values["parentcustomerid"].(eventual.EntityReference); ref.Table != nil {
		t.Errorf("parentcustomerid without annotation has table %v", ref.Table)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	for _, tc := range []struct{ body, err string }{
		{`[]`, "not a JSON object"},
		{`{"nosuch":1}`, `property "nosuch" is not a column`},
		{`{"_value":1}`, `property "_value" is not a column`},
		{`{"nosuch_value":"x"}`, `property "nosuch_value" is not a column`},
		{`{"new_quantity":"3"}`, "new_quantity: Cannot convert"},
		{`{"@odata.etag":"*"}`, "not a row version's ETag"},
		{`{"_new_customer_value":"x"}`, "lookup value"},
		{`{"_new_customer_value":"22222222-3333-4444-5555-666666666666","_new_customer_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact"}`, "contact is not a target"},
		{`{"new_customer":7}`, "not an object or an array"},
	} {
		_, err := codec.DecodeRecord(schema.Table("new_order"), []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("DecodeRecord(%s) = %v, want %q", tc.body, err, tc.err)
		}
	}
}

// TestDecodeRecordSkipsLeftOutLookups: a lookup value of a column the
// table does not have (Dataverse's _createdby_value on a table discovered
// without systemuser) is skipped, so a record read without $select from
// real Dataverse decodes.
func TestDecodeRecordSkipsLeftOutLookups(t *testing.T) {
	bare, err := eventual.NewSchema(metadata.BuiltinTables()) // no systemuser, so no createdby or ownerid
	if err != nil {
		t.Fatal(err)
	}
	rec, err := codec.DecodeRecord(bare.Table("new_order"), []byte(`{"new_name":"O-1","_createdby_value":"22222222-3333-4444-5555-666666666666",`+
		`"_createdby_value@Microsoft.Dynamics.CRM.lookuplogicalname":"systemuser","_ownerid_value":null}`))
	if err != nil || rec.Values["new_name"] != "O-1" || len(rec.Values) != 1 {
		t.Fatalf("DecodeRecord: %v, %v; want new_name alone", rec, err)
	}
}
