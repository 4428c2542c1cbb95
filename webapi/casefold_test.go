package webapi_test

import (
	"github.com/eventual-pp/eventual"
	"net/http"
	"net/url"
	"testing"
)

// TestKeysFoldUnicodeCase pins one case-folding rule for keys, key
// lookups, $filter and placeholder keys on every store: Dataverse compares
// text without regard to case, non-ASCII letters included.
func TestKeysFoldUnicodeCase(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		t.Run("UpsertByNonASCIIKeyIsIdempotent", func(t *testing.T) {
			s := s.withTB(t)
			key := "accounts(accountnumber='" + url.PathEscape("Ü9130") + "')"
			s.must(http.StatusNoContent, "PATCH", key, map[string]any{"name": "x"})
			s.must(http.StatusNoContent, "PATCH", key, map[string]any{"name": "y"})
			s.must(http.StatusNoContent, "PATCH", key, map[string]any{"name": "z"})
			got := s.must(http.StatusOK, "GET", key+"?$select=name,accountnumber", nil).JSON(t)
			if str(got, "name") != "z" || str(got, "accountnumber") != "Ü9130" {
				t.Errorf("record by key = %v, want name z, accountnumber Ü9130", got)
			}
			lower := "accounts(accountnumber='" + url.PathEscape("ü9130") + "')"
			if got := s.must(http.StatusOK, "GET", lower+"?$select=name", nil).JSON(t); str(got, "name") != "z" {
				t.Errorf("record by lower-case key = %v, want name z", got)
			}
			if n := s.count("accounts", "accountnumber eq 'ü9130'"); n != 1 {
				t.Errorf("%d accounts with the key, want 1", n)
			}
		})
		t.Run("CompositeKey", func(t *testing.T) {
			s := s.withTB(t)
			key := "contacts(firstname='" + url.PathEscape("Émile") + "',emailaddress1='e1@x.com')"
			s.must(http.StatusNoContent, "PATCH", key, map[string]any{"lastname": "a"})
			s.must(http.StatusNoContent, "PATCH", key, map[string]any{"lastname": "b"})
			other := "contacts(firstname='" + url.PathEscape("éMILE") + "',emailaddress1='E1@X.COM')"
			got := s.must(http.StatusOK, "GET", other+"?$select=lastname", nil).JSON(t)
			if str(got, "lastname") != "b" {
				t.Errorf("contact by folded composite key = %v, want lastname b", got)
			}
			if n := s.count("contacts", "firstname eq 'ÉMILE'"); n != 1 {
				t.Errorf("%d contacts named ÉMILE, want 1", n)
			}
		})
		t.Run("CaseVariantsAreOneKey", func(t *testing.T) {
			s := s.withTB(t)
			a := s.create("accounts", map[string]any{"name": "lower", "accountnumber": "ä1"})
			r := s.do("POST", "accounts", map[string]any{"name": "upper", "accountnumber": "Ä1"})
			expectError(t, r, http.StatusPreconditionFailed, "0x80060892", "")
			key := "accounts(accountnumber='" + url.PathEscape("Ä1") + "')"
			s.must(http.StatusNoContent, "PATCH", key, map[string]any{"name": "patched"}, "If-Match", "*")
			got := s.must(http.StatusOK, "GET", "accounts("+a+")?$select=name", nil).JSON(t)
			if str(got, "name") != "patched" {
				t.Errorf("PATCH by Ä1 did not update the ä1 record: %v", got)
			}
		})
		t.Run("FilterFoldsNonASCII", func(t *testing.T) {
			s := s.withTB(t)
			s.create("accounts", map[string]any{"name": "ärger1"})
			s.create("accounts", map[string]any{"name": "ΣΟΦΊΑ"})
			for _, f := range []string{
				"name eq 'ÄRGER1'", "name eq 'Ärger1'", "contains(name,'RGER')", "startswith(name,'ÄR')",
				"endswith(name,'GER1')", `Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["ÄRGER1","nothing"])`, "name eq 'σοφία'",
			} {
				if n := s.count("accounts", f); n != 1 {
					t.Errorf("$filter=%s matched %d accounts, want 1", f, n)
				}
			}
			if n := s.count("accounts", "name ne 'ÄRGER1' and (name eq 'ärger1' or name eq 'ÄRGER1')"); n != 0 {
				t.Errorf("ne/eq disagree: %d", n)
			}
		})
		t.Run("PlaceholderBindByNonASCIIKey", func(t *testing.T) {
			s := s.withTB(t)
			withPlaceholders(t, s, eventual.PreValidation)
			bind := "/accounts(accountnumber='" + url.PathEscape("Öl-7") + "')"
			s.create("contacts", map[string]any{"lastname": "c1", "parentcustomerid_account@odata.bind": bind})
			s.create("contacts", map[string]any{"lastname": "c2", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='" + url.PathEscape("öL-7") + "')"})
			if n := s.count("accounts", "accountnumber eq 'ÖL-7'"); n != 1 {
				t.Errorf("%d accounts for the bound key, want one placeholder", n)
			}
		})
	})
}
