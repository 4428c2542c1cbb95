package webapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// TestManyToMany: the built-in many-to-many relationship
// new_account_contact: associate and disassociate through $ref from
// either side, read the related records, $count, $expand, any/all in
// $filter, associations in a create body, and the intersect records
// themselves (change-tracked, so a sync replicates them).
func TestManyToMany(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		ids := fetchSeed(t, s)
		ref := func(set, id string) map[string]any { return map[string]any{"@odata.id": s.URL + set + "(" + id + ")"} }
		s.must(http.StatusNoContent, "POST", "accounts("+ids["A1"]+")/new_account_contact/$ref", ref("contacts", ids["Ann2"]))
		s.must(http.StatusNoContent, "POST", "accounts("+ids["A1"]+")/new_account_contact/$ref", ref("contacts", ids["Ann3"]))
		s.must(http.StatusNoContent, "POST", "contacts("+ids["Ann2"]+")/new_account_contact/$ref", ref("accounts", ids["A5"]))
		names := func(path, prop string) string {
			t.Helper()
			var out []string
			for _, r := range s.must(http.StatusOK, "GET", path, nil).Value(t) {
				out = append(out, str(r, prop))
			}
			sort.Strings(out)
			return strings.Join(out, ",")
		}
		// FetchXML through the intersect, as join-tables.md's
		// teammembership example: the intersect link returns no columns.
		xml := `<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="name" operator="eq" value="A1"/></filter>` +
			`<link-entity name="new_account_contact" from="accountid" to="accountid" intersect="true"><link-entity name="contact" from="contactid" to="contactid" alias="c"><attribute name="lastname"/></link-entity></link-entity></entity></fetch>`
		rows := s.must(http.StatusOK, "GET", fetchURL("accounts", xml), nil).Value(t)
		if len(rows) != 2 || str(rows[0], "c.lastname")+str(rows[1], "c.lastname") != "23" && str(rows[0], "c.lastname")+str(rows[1], "c.lastname") != "32" {
			t.Errorf("fetch through the intersect: %v", rows)
		}
		for _, r := range rows {
			for k := range r {
				if strings.HasPrefix(k, "new_account_contact") {
					t.Errorf("the intersect link returned %s: %v", k, r)
				}
			}
		}
		if got := names("accounts("+ids["A1"]+")/new_account_contact?$select=lastname", "lastname"); got != "2,3" {
			t.Errorf("A1's associated contacts: %s", got)
		}
		if got := names("contacts("+ids["Ann2"]+")/new_account_contact?$select=name", "name"); got != "A1,A5" {
			t.Errorf("Ann2's associated accounts, from the other side: %s", got)
		}
		if got := strings.TrimSpace(string(s.must(http.StatusOK, "GET", "accounts("+ids["A1"]+")/new_account_contact/$count", nil).Body)); got != "2" {
			t.Errorf("$count: %s", got)
		}
		if got := names("accounts?$select=name&$filter="+url.PathEscape("new_account_contact/any(c:c/lastname eq '3')"), "name"); got != "A1" {
			t.Errorf("any: %s", got)
		}
		if got := names("accounts?$select=name&$filter="+url.PathEscape("new_account_contact/any() and new_account_contact/all(c:c/lastname eq '2')"), "name"); got != "A5" {
			t.Errorf("any() and all: %s", got)
		}
		x := s.must(http.StatusOK, "GET", "accounts("+ids["A1"]+")?$select=name&$expand=new_account_contact($select=lastname;$filter=lastname%20ne%20'3')", nil).JSON(t)
		if list, _ := x["new_account_contact"].([]any); len(list) != 1 || list[0].(map[string]any)["lastname"] != "2" {
			t.Errorf("$expand with $filter: %v", x)
		}
		rows = s.must(http.StatusOK, "GET", "accounts?$select=name&$orderby=name&$expand=new_account_contact($select=lastname)", nil).Value(t)
		if len(rows) != 5 || len(rows[0]["new_account_contact"].([]any)) != 2 || len(rows[1]["new_account_contact"].([]any)) != 0 || len(rows[4]["new_account_contact"].([]any)) != 1 {
			t.Errorf("$expand on a collection: %v", rows)
		}
		// Associating twice is refused; disassociating both ways.
		if r := s.do("POST", "accounts("+ids["A1"]+")/new_account_contact/$ref", ref("contacts", ids["Ann2"])); r.Status != http.StatusBadRequest {
			t.Errorf("a second association: %d %s", r.Status, r.Body)
		}
		s.must(http.StatusNoContent, "DELETE", "accounts("+ids["A1"]+")/new_account_contact("+ids["Ann2"]+")/$ref", nil)
		s.must(http.StatusNoContent, "DELETE", "contacts("+ids["Ann3"]+")/new_account_contact/$ref?$id="+s.URL+"accounts("+ids["A1"]+")", nil)
		if got := names("accounts("+ids["A1"]+")/new_account_contact?$select=lastname", "lastname"); got != "" {
			t.Errorf("after disassociating: %s", got)
		}
		if r := s.do("DELETE", "accounts("+ids["A1"]+")/new_account_contact("+ids["Ann2"]+")/$ref", nil); r.Status != http.StatusNotFound {
			t.Errorf("disassociating what is not associated: %d %s", r.Status, r.Body)
		}
		// In a create body: bind existing contacts and create a new one.
		id := s.create("accounts", map[string]any{"name": "Bound", "new_account_contact@odata.bind": []any{"/contacts(" + ids["Ann4"] + ")"}})
		s.must(http.StatusNoContent, "POST", "accounts("+id+")/new_account_contact", map[string]any{"lastname": "Created through the navigation"})
		if got := names("accounts("+id+")/new_account_contact?$select=lastname", "lastname"); got != "4,Created through the navigation" {
			t.Errorf("associations made on create: %s", got)
		}
		// The intersect records, as Dataverse exposes them.
		if got := len(s.must(http.StatusOK, "GET", "new_account_contacts?$select=_accountid_value,_contactid_value", nil).Value(t)); got != 3 {
			t.Errorf("intersect records: %d, want 3 (A5–Ann2 and Bound's two)", got)
		}
		if r := s.do("POST", "accounts("+ids["A1"]+")/new_account_contact/$ref", ref("accounts", ids["A2"])); r.Status != http.StatusBadRequest {
			t.Errorf("associating a record of the wrong table: %d %s", r.Status, r.Body)
		}
		// In a $batch change set: associate two, disassociate one, atomically.
		body := "--batch_nn\r\nContent-Type: multipart/mixed; boundary=changeset_nn\r\n\r\n"
		for i, op := range []string{
			"POST accounts(" + ids["A3"] + ")/new_account_contact/$ref HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"@odata.id\":\"" + s.URL + "contacts(" + ids["Ann1"] + ")\"}",
			"POST accounts(" + ids["A3"] + ")/new_account_contact/$ref HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"@odata.id\":\"" + s.URL + "contacts(" + ids["Ann4"] + ")\"}",
			"DELETE accounts(" + ids["A3"] + ")/new_account_contact(" + ids["Ann1"] + ")/$ref HTTP/1.1\r\n\r\n",
		} {
			body += fmt.Sprintf("--changeset_nn\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: %d\r\n\r\n%s\r\n", i+1, op)
		}
		body += "--changeset_nn--\r\n--batch_nn--\r\n"
		if r := s.do("POST", "$batch", body, "Content-Type", "multipart/mixed; boundary=batch_nn"); r.Status != http.StatusOK || strings.Contains(string(r.Body), "HTTP/1.1 4") {
			t.Errorf("$batch of associations: %d %s", r.Status, r.Body)
		}
		if got := names("accounts("+ids["A3"]+")/new_account_contact?$select=lastname", "lastname"); got != "4" {
			t.Errorf("after the $batch: %s", got)
		}
	})
}
