package webapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/placeholder"
	"github.com/google/uuid"
)

// This file tests integrity rules over HTTP, on every store. Every
// refused request must get a 4xx with Dataverse's error body and write
// nothing, whatever the path it takes (single request, bulk message,
// $batch, deep insert).

// emoji is a character outside the Basic Multilingual Plane: two UTF-16
// code units, one character (rune) in Go.
const emoji = "\U0001F600"

// Codes of the rules tested here.
const (
	codeBadRequest       = "0x80060888"
	codeDuplicateKey     = "0x80060892"
	codeKeyNotFound      = "0x80060891"
	codeInvalidArgument  = "0x80040203"
	codeInvalidStatePair = "0x80048408"
	codeInvalidState     = "0x80040233"
	codeInvalidOperation = "0x8004023b"
	codeRequired         = "0x80040200"
)

// TestUpsertKeyValuesInBody follows use-upsert-insert-update-record.md
// ("Guidance for composing requests", Web API tab): if the record exists,
// key values in the body are dropped, so an upsert by key never changes
// the key it was addressed by; if it does not, the body's key values are
// used for the create "even if the data is different than the values
// specified by the alternate keys in the URL", and the URL's are copied
// only for the key columns the body leaves out.
func TestUpsertKeyValuesInBody(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		subtest(t, s, "CreateUsesBodyKey", func(t *testing.T, s *testServer) {
			body := map[string]any{"name": "uk2", "accountnumber": "OTHERZ1"}
			s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='UKZ1')", body)
			if n := s.count("accounts", "accountnumber eq 'OTHERZ1'"); n != 1 {
				t.Fatalf("%d accounts with the body's key OTHERZ1, want 1", n)
			}
			expectError(t, s.do("GET", "accounts(accountnumber='UKZ1')", nil), http.StatusNotFound, codeKeyNotFound, "")
			// The same request again finds no UKZ1 and creates OTHERZ1
			// again: the key is taken. Dataverse answers so too; the way
			// to stay idempotent is not to repeat key values in the body.
			expectError(t, s.do("PATCH", "accounts(accountnumber='UKZ1')", body), http.StatusPreconditionFailed, codeDuplicateKey, "Entity Key accountnumber_key violated")
			if n := s.count("accounts", "accountnumber eq 'OTHERZ1' or accountnumber eq 'UKZ1'"); n != 1 {
				t.Errorf("%d accounts after the second upsert, want 1", n)
			}
		})
		subtest(t, s, "UpdateKeepsURLKey", func(t *testing.T, s *testServer) {
			id := s.create("accounts", map[string]any{"name": "before", "accountnumber": "UKZ2"})
			for i := range 2 { // the same request twice: the same result
				r := s.must(http.StatusOK, "PATCH", "accounts(accountnumber='UKZ2')?$select=name,accountnumber",
					map[string]any{"name": "after", "accountnumber": "OTHERZ2"}, "Prefer", "return=representation")
				m := r.JSON(t)
				if str(m, "accountid") != id || str(m, "accountnumber") != "UKZ2" || str(m, "name") != "after" {
					t.Errorf("upsert %d returned %s; want account %s, accountnumber UKZ2, name after", i+1, r.Body, id)
				}
			}
			if n := s.count("accounts", "accountnumber eq 'OTHERZ2'"); n != 0 {
				t.Errorf("%d accounts with OTHERZ2: the body changed the key the URL named", n)
			}
		})
		subtest(t, s, "CompositeKey", func(t *testing.T, s *testServer) {
			id := s.create("contacts", map[string]any{"firstname": "A", "emailaddress1": "e@x.com", "lastname": "L"})
			url := "contacts(firstname='A',emailaddress1='e@x.com')"
			for range 2 {
				s.must(http.StatusNoContent, "PATCH", url, map[string]any{"lastname": "M", "firstname": "B", "emailaddress1": "other@x.com"})
			}
			m := s.must(http.StatusOK, "GET", url+"?$select=firstname,emailaddress1,lastname", nil).JSON(t)
			if str(m, "contactid") != id || str(m, "firstname") != "A" || str(m, "emailaddress1") != "e@x.com" || str(m, "lastname") != "M" {
				t.Errorf("contact after upserts: %v; want A, e@x.com, M", m)
			}
			// On create the body's part of the key is used, the missing
			// part comes from the URL.
			s.must(http.StatusNoContent, "PATCH", "contacts(firstname='C',emailaddress1='c@x.com')", map[string]any{"lastname": "N", "emailaddress1": "c2@x.com"})
			if n := s.count("contacts", "firstname eq 'C' and emailaddress1 eq 'c2@x.com'"); n != 1 {
				t.Errorf("%d contacts C/c2@x.com, want 1", n)
			}
		})
		subtest(t, s, "UpsertMultiple", func(t *testing.T, s *testServer) {
			id := s.create("accounts", map[string]any{"name": "before", "accountnumber": "UKZ3"})
			body := targets(
				target(accountType, "@odata.id", "accounts(accountnumber='UKZ3')", "name", "after", "accountnumber", "OTHERZ3"),
				target(accountType, "@odata.id", "accounts(accountnumber='UKZ5')", "name", "new"),
			)
			for range 2 {
				s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", body)
			}
			m := s.must(http.StatusOK, "GET", "accounts(accountnumber='UKZ3')?$select=name", nil).JSON(t)
			if str(m, "accountid") != id || str(m, "name") != "after" {
				t.Errorf("account UKZ3 = %v, want %s renamed", m, id)
			}
			if n := s.count("accounts", "accountnumber eq 'OTHERZ3'"); n != 0 {
				t.Errorf("%d accounts with OTHERZ3, want 0", n)
			}
			if n := s.count("accounts", "accountnumber eq 'UKZ5'"); n != 1 {
				t.Errorf("%d accounts UKZ5, want 1 (created from the URL's key)", n)
			}
		})
		subtest(t, s, "Batch", func(t *testing.T, s *testServer) {
			s.create("accounts", map[string]any{"name": "before", "accountnumber": "UKZ4"})
			for range 2 {
				b := s.batch(nil, changeSet{{Method: "PATCH", URL: "/api/data/v9.2/accounts(accountnumber='UKZ4')", ContentID: "1",
					Body: map[string]any{"name": "after", "accountnumber": "OTHERZ4"}}})
				wantStatuses(t, b, http.StatusNoContent)
			}
			if n := s.count("accounts", "accountnumber eq 'UKZ4' and name eq 'after'"); n != 1 {
				t.Errorf("%d accounts UKZ4 renamed, want 1", n)
			}
		})
		subtest(t, s, "PrimaryKeyInBody", func(t *testing.T, s *testServer) {
			// The URL's GUID names the record; a body naming another one
			// is refused rather than guessed at.
			url, other := uuid.NewString(), uuid.NewString()
			expectError(t, s.do("PATCH", "accounts("+url+")", map[string]any{"accountid": other, "name": "x"}),
				http.StatusBadRequest, codeBadRequest, "does not match the key in the URL")
			expectError(t, s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target(accountType, "@odata.id", "accounts("+url+")", "accountid", other, "name", "x"))),
				http.StatusBadRequest, codeBadRequest, "different from its @odata.id")
			for _, id := range []string{url, other} {
				if s.accountName(id) != "" {
					t.Errorf("account %s exists after refused upserts", id)
				}
			}
			// The same GUID in the body is no conflict.
			s.must(http.StatusNoContent, "PATCH", "accounts("+url+")", map[string]any{"accountid": url, "name": "same"})
			if got := s.accountName(url); got != "same" {
				t.Errorf("account %s name %q, want same", url, got)
			}
		})
	})
}

// TestDateOnlyBody: the Web API exposes DateOnly columns as Edm.Date
// (behavior-format-date-time-attribute.md), whose JSON form is
// "yyyy-MM-dd". A value with a time or an offset is refused, not shifted
// to another day.
func TestDateOnlyBody(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := s.create("accounts", map[string]any{"name": "Dates"})
		con := s.create("contacts", map[string]any{"lastname": "D", "birthdate": "1980-05-06"})
		conURL := "contacts(" + con + ")"
		records := []string{"accounts(" + acct + ")", conURL}
		var cases []badCase
		for _, v := range []string{"2024-01-01T23:30:00-05:00", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01Z", " 2024-01-01"} {
			msg := badCannotConvert(v, "Edm.Date")
			cases = append(cases,
				badCase{"Create" + v, "POST", "contacts", map[string]any{"lastname": "x", "birthdate": v}, nil, 400, badCodePayload, msg},
				badCase{"Update" + v, "PATCH", conURL, map[string]any{"lastname": "changed", "birthdate": v}, nil, 400, badCodePayload, msg},
				badCase{"Upsert" + v, "PATCH", "contacts(" + uuid.NewString() + ")", map[string]any{"lastname": "x", "birthdate": v}, nil, 400, badCodePayload, msg},
				badCase{"PutProperty" + v, "PUT", conURL + "/birthdate", map[string]any{"value": v}, nil, 400, badCodePayload, msg},
				badCase{"CreateMultiple" + v, "POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(target(contactType, "lastname", "x", "birthdate", v)), nil, 400, badCodePayload, msg},
				badCase{"DeepInsert" + v, "POST", "accounts", map[string]any{"name": "x", "primarycontactid": map[string]any{"lastname": "y", "birthdate": v}}, nil, 400, badCodePayload, msg},
			)
		}
		s.runBadCases(t, records, cases)

		subtest(t, s, "Batch", func(t *testing.T, s *testServer) {
			before := s.badSnapshot(records...)
			b := s.batch(nil, changeSet{
				{Method: "POST", URL: "/api/data/v9.2/contacts", ContentID: "1", Body: map[string]any{"lastname": "ok"}},
				{Method: "POST", URL: "/api/data/v9.2/contacts", ContentID: "2", Body: map[string]any{"lastname": "x", "birthdate": "2024-01-01T23:30:00-05:00"}},
			})
			if b.Status != http.StatusBadRequest {
				t.Errorf("$batch status %d, want 400", b.Status)
			}
			if parts := b.Parts(); len(parts) == 1 {
				wantPartError(t, parts[0], http.StatusBadRequest, badCodePayload, "Edm.Date")
			} else {
				t.Errorf("$batch parts %v, want the one failing part", b.Statuses())
			}
			before.diff(t, s.badSnapshot(records...))
		})
		subtest(t, s, "DateAccepted", func(t *testing.T, s *testServer) {
			id := s.create("contacts", map[string]any{"lastname": "ok", "birthdate": "2024-01-01"})
			if got := str(s.must(http.StatusOK, "GET", "contacts("+id+")?$select=birthdate", nil).JSON(t), "birthdate"); got != "2024-01-01" {
				t.Errorf("birthdate %q, want 2024-01-01", got)
			}
			// DateAndTime columns still take offsets, converted to UTC.
			ord := s.create("new_orders", map[string]any{"new_name": "o", "new_orderdate": "2024-01-01T23:30:00-05:00"})
			if got := str(s.must(http.StatusOK, "GET", "new_orders("+ord+")?$select=new_orderdate", nil).JSON(t), "new_orderdate"); got != "2024-01-02T04:30:00Z" {
				t.Errorf("new_orderdate %q, want 2024-01-02T04:30:00Z", got)
			}
		})
	})
}

// TestMaxLengthUTF16: Dataverse counts MaxLength in UTF-16 code units (SQL
// nvarchar, .NET strings), so a character outside the BMP counts twice.
func TestMaxLengthUTF16(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := s.create("accounts", map[string]any{"name": "Lengths", "accountnumber": "LEN-1"})
		acctURL := "accounts(" + acct + ")"
		records := []string{acctURL}
		over := strings.Repeat(emoji, 160)            // 160 characters, 320 units
		overByOne := strings.Repeat("a", 159) + emoji // 161 units
		longMsg := "The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."
		s.runBadCases(t, records, []badCase{
			{"Create", "POST", "accounts", map[string]any{"name": over}, nil, 400, badCodeLength, longMsg},
			{"CreateOverByOne", "POST", "accounts", map[string]any{"name": overByOne}, nil, 400, badCodeLength, longMsg},
			{"Update", "PATCH", acctURL, map[string]any{"name": over}, nil, 400, badCodeLength, longMsg},
			{"UpsertByKey", "PATCH", "accounts(accountnumber='LEN-2')", map[string]any{"name": over}, nil, 400, badCodeLength, longMsg},
			{"PutProperty", "PUT", acctURL + "/name", map[string]any{"value": over}, nil, 400, badCodeLength, longMsg},
			{"UpsertMultiple", "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target(accountType, "@odata.id", acctURL, "name", "fine"),
				target(accountType, "@odata.id", "accounts(accountnumber='LEN-3')", "name", over)), nil, 400, badCodeLength, longMsg},
			{"Key", "POST", "accounts", map[string]any{"name": "x", "accountnumber": strings.Repeat(emoji, 11)}, nil, 400, badCodeLength, "'accountnumber'"},
		})
		subtest(t, s, "AtTheLimit", func(t *testing.T, s *testServer) {
			for _, name := range []string{strings.Repeat(emoji, 80), strings.Repeat("a", 158) + emoji} {
				id := s.create("accounts", map[string]any{"name": name})
				if got := s.accountName(id); got != name {
					t.Errorf("name of %d UTF-16 units came back as %q", eventual.UTF16Len(name), got)
				}
			}
		})
	})
}

// TestMaxLengthTruncation: the values the instance derives are cut to
// MaxLength in UTF-16 units, never in the middle of a character.
func TestMaxLengthTruncation(t *testing.T) {
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			t.Run("FullName", func(t *testing.T) {
				defs := metadata.BuiltinTables()
				for i := range defs {
					if defs[i].LogicalName != "contact" {
						continue
					}
					for j := range defs[i].Columns {
						if defs[i].Columns[j].LogicalName == "fullname" {
							defs[i].Columns[j].MaxLength = 12
						}
					}
				}
				schema, err := eventual.NewSchema(append(defs, metadata.SystemTables()...))
				if err != nil {
					t.Fatal(err)
				}
				s := newServer(t, st, schema)
				// "abcd " and four emoji: 13 units; the fourth emoji
				// would straddle the limit of 12.
				id := s.create("contacts", map[string]any{"firstname": "abcd", "lastname": strings.Repeat(emoji, 4)})
				got := str(s.must(http.StatusOK, "GET", "contacts("+id+")?$select=fullname", nil).JSON(t), "fullname")
				if want := "abcd " + strings.Repeat(emoji, 3); got != want {
					t.Errorf("fullname %q (%d units), want %q", got, eventual.UTF16Len(got), want)
				}
			})
			t.Run("PlaceholderName", func(t *testing.T) {
				s := newServer(t, st, metadata.Builtin())
				steps, err := placeholder.Steps(s.Instance.Schema, []placeholder.Lookup{{
					Table: "new_order", Column: "new_customer", Name: "a" + strings.Repeat(emoji, 100)}})
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range steps {
					registerStep(t, s, st)
				}
				missing := uuid.NewString()
				s.create("new_orders", map[string]any{"new_name": "o", "new_customer@odata.bind": "/accounts(" + missing + ")"})
				name := s.accountName(missing)
				if want := "a" + strings.Repeat(emoji, 79); name != want || !utf8.ValidString(name) {
					t.Errorf("placeholder name has %d units, want %q (159 units: the 80th emoji would split at 160)", eventual.UTF16Len(name), want)
				}
			})
		})
	}
}

// TestNULInText: PostgreSQL text cannot hold U+0000, so a string value
// with it is refused before any store sees it, with the same 400 on every
// store, whatever the path of the write.
func TestNULInText(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := s.create("accounts", map[string]any{"name": "NUL", "accountnumber": "NUL-1"})
		acctURL := "accounts(" + acct + ")"
		con := s.create("contacts", map[string]any{"lastname": "N"})
		records := []string{acctURL, "contacts(" + con + ")"}
		nul := "a\x00b"
		msg := "U+0000"
		s.runBadCases(t, records, []badCase{
			{"Create", "POST", "accounts", map[string]any{"name": nul}, nil, 400, badCodePayload, msg},
			{"CreateMemo", "POST", "accounts", map[string]any{"name": "x", "description": nul}, nil, 400, badCodePayload, msg},
			{"CreateRaw", "POST", "accounts", `{"name":"a\u0000b"}`, nil, 400, badCodePayload, msg},
			{"Update", "PATCH", acctURL, map[string]any{"name": "changed", "description": nul}, nil, 400, badCodePayload, msg},
			{"UpsertCreate", "PATCH", "accounts(accountnumber='NUL-2')", map[string]any{"name": nul}, nil, 400, badCodePayload, msg},
			{"UpsertKeyInBody", "PATCH", "accounts(accountnumber='NUL-3')", map[string]any{"name": "x", "accountnumber": nul}, nil, 400, badCodePayload, msg},
			{"UpsertByGUID", "PATCH", "accounts(" + uuid.NewString() + ")", map[string]any{"name": nul}, nil, 400, badCodePayload, msg},
			{"PutProperty", "PUT", acctURL + "/description", map[string]any{"value": nul}, nil, 400, badCodePayload, msg},
			{"Contact", "PATCH", "contacts(" + con + ")", map[string]any{"firstname": nul}, nil, 400, badCodePayload, msg},
			{"DeepInsert", "POST", "accounts", map[string]any{"name": "x", "primarycontactid": map[string]any{"lastname": nul}}, nil, 400, badCodePayload, msg},
			{"DeepInsertCollection", "POST", "accounts", map[string]any{"name": "x", "contact_customer_accounts": []any{map[string]any{"lastname": "ok"}, map[string]any{"lastname": nul}}}, nil, 400, badCodePayload, msg},
			{"CreateMultiple", "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "name", "fine"), target(accountType, "name", nul)), nil, 400, badCodePayload, msg},
			{"UpsertMultiple", "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target(accountType, "@odata.id", acctURL, "name", "fine"),
				target(accountType, "@odata.id", "accounts(accountnumber='NUL-4')", "name", nul)), nil, 400, badCodePayload, msg},
			{"UpdateMultiple", "POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", acct, "description", nul)), nil, 400, badCodePayload, msg},
		})
		subtest(t, s, "Batch", func(t *testing.T, s *testServer) {
			before := s.badSnapshot(records...)
			b := s.batch(nil, changeSet{
				{Method: "POST", URL: "/api/data/v9.2/accounts", ContentID: "1", Body: map[string]any{"name": "ok"}},
				{Method: "PATCH", URL: "/api/data/v9.2/" + acctURL, ContentID: "2", Body: map[string]any{"description": nul}},
			})
			if parts := b.Parts(); b.Status != http.StatusBadRequest || len(parts) != 1 {
				t.Fatalf("$batch status %d parts %v, want 400 and the failing part", b.Status, b.Statuses())
			}
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, badCodePayload, msg)
			before.diff(t, s.badSnapshot(records...))
		})
	})
}

// TestStateStatusPairs: every statuscode belongs to one statecode.
// Setting statecode alone sets its default status
// (special-update-operation-behavior.md); a pair that does not belong
// together, or a statuscode alone that is not one of the record's state,
// is refused with InvalidStateCodeStatusCode (0x80048408).
func TestStateStatusPairs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		acct := s.create("accounts", map[string]any{"name": "States"})
		acctURL := "accounts(" + acct + ")"
		records := []string{acctURL}
		s.runBadCases(t, records, []badCase{
			{"CreateActiveStatusInactiveState", "POST", "accounts", map[string]any{"name": "x", "statecode": 1, "statuscode": 1}, nil, 400, codeInvalidStatePair,
				"1 is not a valid status code for state code AccountState.Inactive on account."},
			{"CreateStatusOfOtherState", "POST", "accounts", map[string]any{"name": "x", "statuscode": 2}, nil, 400, codeInvalidStatePair,
				"2 is not a valid status code for state code AccountState.Active on account."},
			{"Update", "PATCH", acctURL, map[string]any{"name": "changed", "statecode": 1, "statuscode": 1}, nil, 400, codeInvalidStatePair,
				"1 is not a valid status code for state code AccountState.Inactive on account with Id " + acct + "."},
			{"UpdateStatusAlone", "PATCH", acctURL, map[string]any{"statuscode": 2}, nil, 400, codeInvalidStatePair, "AccountState.Active"},
			{"UpdateNullState", "PATCH", acctURL, map[string]any{"statecode": nil}, nil, 400, codeRequired, "statecode"},
			{"UpsertCreate", "PATCH", "accounts(accountnumber='ST-1')", map[string]any{"statecode": 0, "statuscode": 2}, nil, 400, codeInvalidStatePair, "AccountState.Active"},
			{"PutStatus", "PUT", acctURL + "/statuscode", map[string]any{"value": 2}, nil, 400, codeInvalidStatePair, "AccountState.Active"},
			{"CreateMultiple", "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(accountType, "name", "fine"), target(accountType, "name", "x", "statecode", 1, "statuscode", 1)), nil, 400, codeInvalidStatePair, "AccountState.Inactive"},
			{"UpsertMultipleExisting", "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target(accountType, "@odata.id", "accounts(accountnumber='ST-2')", "name", "fine"),
				target(accountType, "@odata.id", acctURL, "statuscode", 2)), nil, 400, codeInvalidStatePair, "AccountState.Active"},
			{"UpdateMultiple", "POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target(accountType, "accountid", acct, "statecode", 1, "statuscode", 1)), nil, 400, codeInvalidStatePair, "AccountState.Inactive"},
		})
		state := func(id string) (string, string) {
			m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=statecode,statuscode", nil).JSON(t)
			return fmt.Sprint(m["statecode"]), fmt.Sprint(m["statuscode"])
		}
		want := func(id, st, su string) {
			t.Helper()
			if gotSt, gotSu := state(id); gotSt != st || gotSu != su {
				t.Errorf("account %s statecode %s statuscode %s, want %s %s", id, gotSt, gotSu, st, su)
			}
		}
		subtest(t, s, "StateAloneGetsDefaultStatus", func(t *testing.T, s *testServer) {
			id := s.create("accounts", map[string]any{"name": "inactive", "statecode": 1})
			want(id, "1", "2")
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"statecode": 0})
			want(id, "0", "1")
			s.must(http.StatusNoContent, "PUT", "accounts("+id+")/statecode", map[string]any{"value": 1})
			want(id, "1", "2")
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"statecode": 0, "statuscode": 1})
			want(id, "0", "1")
			s.must(http.StatusNoContent, "PATCH", "accounts(accountnumber='ST-3')", map[string]any{"name": "upserted", "statecode": 1})
			m := s.must(http.StatusOK, "GET", "accounts(accountnumber='ST-3')?$select=statuscode", nil).JSON(t)
			want(str(m, "accountid"), "1", "2")
		})
	})
}

// TestReadOnlyProperties: a PUT or DELETE of a single property that is not
// valid for update (the primary key, createdon, modifiedon,
// versionnumber, the placeholder lifecycle, fullname) is refused; it
// changes nothing, not even modifiedon.
func TestReadOnlyProperties(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ord := s.create("new_orders", map[string]any{"new_name": "O"})
		con := s.create("contacts", map[string]any{"firstname": "F", "lastname": "L"})
		ordURL, conURL := "new_orders("+ord+")", "contacts("+con+")"
		records := []string{ordURL, conURL}
		other := uuid.NewString()
		readOnly := "is read-only"
		s.runBadCases(t, records, []badCase{
			{"PutPrimaryKey", "PUT", ordURL + "/new_orderid", map[string]any{"value": other}, nil, 400, codeInvalidArgument, "The property 'new_orderid' of entity 'new_order' is read-only"},
			{"PutSamePrimaryKey", "PUT", ordURL + "/new_orderid", map[string]any{"value": ord}, nil, 400, codeInvalidArgument, readOnly},
			{"PutCreatedOn", "PUT", ordURL + "/createdon", map[string]any{"value": "2020-01-01T00:00:00Z"}, nil, 400, codeInvalidArgument, readOnly},
			{"PutModifiedOn", "PUT", ordURL + "/modifiedon", map[string]any{"value": "2020-01-01T00:00:00Z"}, nil, 400, codeInvalidArgument, readOnly},
			{"PutVersionNumber", "PUT", ordURL + "/versionnumber", map[string]any{"value": 1}, nil, 400, codeInvalidArgument, readOnly},
			{"PutHydrationState", "PUT", ordURL + "/eventual_hydrationstate", map[string]any{"value": 1}, nil, 400, codeInvalidArgument, readOnly},
			{"PutFullName", "PUT", conURL + "/fullname", map[string]any{"value": "Other Name"}, nil, 400, codeInvalidArgument, readOnly},
			{"DeleteCreatedOn", "DELETE", ordURL + "/createdon", nil, nil, 400, codeInvalidArgument, readOnly},
			{"DeletePrimaryKey", "DELETE", ordURL + "/new_orderid", nil, nil, 400, codeInvalidArgument, readOnly},
			{"DeleteFullName", "DELETE", conURL + "/fullname", nil, nil, 400, codeInvalidArgument, readOnly},
		})
		if s.do("GET", "new_orders("+other+")", nil).Status != http.StatusNotFound {
			t.Errorf("new_orders(%s) exists after PUT of the primary key", other)
		}
		subtest(t, s, "Batch", func(t *testing.T, s *testServer) {
			before := s.badSnapshot(records...)
			b := s.batch(nil, changeSet{{Method: "PUT", URL: "/api/data/v9.2/" + ordURL + "/new_orderid", ContentID: "1", Body: map[string]any{"value": other}}})
			if parts := b.Parts(); len(parts) != 1 {
				t.Fatalf("$batch parts %v, want 1", b.Statuses())
			}
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, codeInvalidArgument, readOnly)
			before.diff(t, s.badSnapshot(records...))
		})
	})
}

// TestSystemJobsFromClients: system jobs are the instance's; clients may
// manage them only as asynchronous-service.md describes ("Creating system
// jobs with code is not supported"; only statecode, statuscode and
// postponeuntil are supported for update; Cancel, Resume, Pause,
// Postpone; Delete in any state).
func TestSystemJobsFromClients(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		var runs atomic.Int64
		registerStep(t, s, eventual.Step{Name: "test.async.audit", Message: eventual.MessageCreate, Table: "account",
			Stage: eventual.PostOperation, Mode: eventual.Asynchronous, Plugin: eventual.PluginFunc(func(context.Context, *eventual.ExecutionContext) error {
				runs.Add(1)
				return nil
			})})
		ctx := t.Context()
		jobOf := func(name string) string {
			t.Helper()
			s.create("accounts", map[string]any{"name": name})
			v := s.must(http.StatusOK, "GET", "asyncoperations?$select=asyncoperationid&$orderby=createdon%20desc&$top=1", nil).Value(t)
			if len(v) != 1 {
				t.Fatalf("no job queued for account %s", name)
			}
			return str(v[0], "asyncoperationid")
		}
		job := jobOf("a1")
		jobURL := "asyncoperations(" + job + ")"
		m := s.must(http.StatusOK, "GET", jobURL+"?$select=statecode,statuscode", nil).JSON(t)
		if fmt.Sprintf("%v %v", m["statecode"], m["statuscode"]) != "0 0" {
			t.Errorf("queued job statecode %v statuscode %v, want Ready (0) with Waiting For Resources (0)", m["statecode"], m["statuscode"])
		}
		jobs := func() int { return s.count("asyncoperations", "") }
		snapshot := func() (int, string) {
			return jobs(), string(s.must(http.StatusOK, "GET", jobURL, nil).Body)
		}
		type refused struct {
			name, method, path string
			body               any
			status             int
			code, msg          string
		}
		create := "Creating system jobs (asyncoperation) is not supported"
		for _, c := range []refused{
			{"Create", "POST", "asyncoperations", map[string]any{"name": "mine", "data": "{}"}, 405, codeInvalidOperation, create},
			{"UpsertCreate", "PATCH", "asyncoperations(" + uuid.NewString() + ")", map[string]any{"name": "mine"}, 405, codeInvalidOperation, create},
			{"CreateMultiple", "POST", "asyncoperations/Microsoft.Dynamics.CRM.CreateMultiple", targets(target("Microsoft.Dynamics.CRM.asyncoperation", "name", "mine")), 405, codeInvalidOperation, create},
			{"UpsertMultipleCreate", "POST", "asyncoperations/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target("Microsoft.Dynamics.CRM.asyncoperation", "@odata.id", "asyncoperations("+uuid.NewString()+")", "name", "mine")), 405, codeInvalidOperation, create},
			{"UpdateName", "PATCH", jobURL, map[string]any{"name": "renamed"}, 405, codeInvalidOperation, "The column 'name' of a system job cannot be updated"},
			{"UpdateData", "PATCH", jobURL, map[string]any{"statecode": 3, "statuscode": 32, "data": "{}"}, 405, codeInvalidOperation, "The column 'data'"},
			{"UpdateRetryCount", "PUT", jobURL + "/retrycount", map[string]any{"value": 0}, 405, codeInvalidOperation, "The column 'retrycount'"},
			{"UpdateMultipleName", "POST", "asyncoperations/Microsoft.Dynamics.CRM.UpdateMultiple", targets(
				target("Microsoft.Dynamics.CRM.asyncoperation", "asyncoperationid", job, "name", "renamed")), 405, codeInvalidOperation, "The column 'name'"},
			{"UpsertMultipleName", "POST", "asyncoperations/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target("Microsoft.Dynamics.CRM.asyncoperation", "@odata.id", jobURL, "name", "renamed")), 405, codeInvalidOperation, "The column 'name'"},
			{"MarkSucceeded", "PATCH", jobURL, map[string]any{"statecode": 3, "statuscode": 30}, 400, codeInvalidState, "only by canceling it"},
			{"CompleteWithoutStatus", "PUT", jobURL + "/statecode", map[string]any{"value": 3}, 400, codeInvalidState, "only by canceling it"},
			{"PauseReadyJob", "PATCH", jobURL, map[string]any{"statecode": 1}, 400, codeInvalidState, "Current state: 0, current status: 0, target state: 1"},
			{"StatusAlone", "PATCH", jobURL, map[string]any{"statuscode": 32}, 400, codeInvalidState, "not valid for the current state"},
			{"CancelWrongPair", "PATCH", jobURL, map[string]any{"statecode": 3, "statuscode": 20}, 400, codeInvalidState, "only by canceling it"},
		} {
			subtest(t, s, c.name, func(t *testing.T, s *testServer) {
				n, body := snapshot()
				expectError(t, s.do(c.method, c.path, c.body), c.status, c.code, c.msg)
				if n2, body2 := snapshot(); n2 != n || body2 != body {
					t.Errorf("refused request wrote: %d jobs → %d\nbefore: %s\nafter:  %s", n, n2, body, body2)
				}
			})
		}
		subtest(t, s, "BatchCreate", func(t *testing.T, s *testServer) {
			n := jobs()
			b := s.batch(nil, changeSet{{Method: "POST", URL: "/api/data/v9.2/asyncoperations", ContentID: "1", Body: map[string]any{"name": "mine"}}})
			if parts := b.Parts(); len(parts) != 1 {
				t.Fatalf("$batch parts %v, want 1", b.Statuses())
			}
			wantPartError(t, b.Parts()[0], http.StatusMethodNotAllowed, codeInvalidOperation, create)
			if jobs() != n {
				t.Errorf("$batch created a job")
			}
		})
		subtest(t, s, "PostponeCancelDelete", func(t *testing.T, s *testServer) {
			later := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
			s.must(http.StatusNoContent, "PATCH", jobURL, map[string]any{"postponeuntil": later.Format(time.RFC3339)})
			if n := s.Instance.RunJobs(ctx); n != 0 || runs.Load() != 0 {
				t.Errorf("RunJobs ran %d jobs (%d step runs) postponed to %s", n, runs.Load(), later)
			}
			s.must(http.StatusNoContent, "PATCH", jobURL, map[string]any{"statecode": 3, "statuscode": 32})
			m := s.must(http.StatusOK, "GET", jobURL+"?$select=statecode,statuscode", nil).JSON(t)
			if fmt.Sprintf("%v %v", m["statecode"], m["statuscode"]) != "3 32" {
				t.Errorf("canceled job statecode %v statuscode %v, want 3 32", m["statecode"], m["statuscode"])
			}
			// A completed job changes no more.
			for _, body := range []map[string]any{{"statecode": 0}, {"postponeuntil": nil}, {"statecode": 3, "statuscode": 32}} {
				expectError(t, s.do("PATCH", jobURL, body), http.StatusBadRequest, codeInvalidState, "Current state: 3, current status: 32")
			}
			// Past its postponement the canceled job does not run.
			s.Instance.Now = func() time.Time { return later.Add(time.Hour) }
			defer func() { s.Instance.Now = nil }()
			if n := s.Instance.RunJobs(ctx); n != 0 || runs.Load() != 0 {
				t.Errorf("RunJobs ran %d canceled jobs (%d step runs)", n, runs.Load())
			}
			s.must(http.StatusNoContent, "DELETE", jobURL, nil)
			s.must(http.StatusNotFound, "GET", jobURL, nil)
		})
		subtest(t, s, "DeleteCompleted", func(t *testing.T, s *testServer) {
			job := jobOf("a2")
			if n := s.Instance.RunJobs(ctx); n != 1 || runs.Load() != 1 {
				t.Fatalf("RunJobs ran %d jobs (%d step runs), want 1", n, runs.Load())
			}
			url := "asyncoperations(" + job + ")"
			m := s.must(http.StatusOK, "GET", url+"?$select=statecode,statuscode", nil).JSON(t)
			if fmt.Sprintf("%v %v", m["statecode"], m["statuscode"]) != fmt.Sprintf("%v %v", instance.JobCompleted, instance.JobSucceeded) {
				t.Errorf("job statecode %v statuscode %v, want succeeded", m["statecode"], m["statuscode"])
			}
			expectError(t, s.do("PATCH", url, map[string]any{"statecode": 3, "statuscode": 32}), http.StatusBadRequest, codeInvalidState, "Current state: 3, current status: 30")
			s.must(http.StatusNoContent, "DELETE", url, nil)
			s.must(http.StatusNotFound, "GET", url, nil)
		})
	})
}
