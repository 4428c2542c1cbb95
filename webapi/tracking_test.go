package webapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testrun"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// delta follows a change-tracking read to its end: the pages of the read
// at path (with maxpagesize when size > 0) and the delta link of the last
// page. It returns the changed records by id, the deleted ids, and the
// delta link.
func delta(t *testing.T, s *testServer, path string, size int, headers ...string) (map[string]map[string]any, map[string]bool, string) {
	t.Helper()
	changed, deleted := map[string]map[string]any{}, map[string]bool{}
	next := path
	if !strings.HasPrefix(next, "http") {
		next = s.URL + next
	}
	hs := append([]string{}, headers...)
	if size > 0 {
		hs = append(hs, "Prefer", fmt.Sprintf("odata.maxpagesize=%d", size))
	}
	for range 10000 {
		r := s.must(http.StatusOK, "GET", next, nil, hs...)
		m := r.JSON(t)
		for _, v := range r.Value(t) {
			if ctx := str(v, "@odata.context"); strings.HasSuffix(ctx, "/$deletedEntity") {
				if v["reason"] != "deleted" {
					t.Errorf("deleted entry %v has no reason", v)
				}
				deleted[str(v, "id")] = true
				continue
			}
			for k, val := range v {
				if strings.HasSuffix(k, "id") && strings.Count(fmt.Sprint(val), "-") == 4 && !strings.HasPrefix(k, "_") {
					if id := fmt.Sprint(val); k == "accountid" || k == "contactid" || k == "new_orderid" {
						if changed[id] != nil {
							t.Errorf("record %s returned twice in one read", id)
						}
						changed[id] = v
					}
				}
			}
		}
		if link, ok := m["@odata.nextLink"].(string); ok {
			next = link
			continue
		}
		link, ok := m["@odata.deltaLink"].(string)
		if !ok {
			t.Fatalf("last page has neither nextLink nor deltaLink: %s", r.Body)
		}
		return changed, deleted, link
	}
	t.Fatal("change tracking read did not end")
	return nil, nil, ""
}

func TestChangeTracking(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		var ids []string
		for i := range 5 {
			ids = append(ids, s.create("accounts", map[string]any{"name": fmt.Sprint("A", i), "accountnumber": fmt.Sprint("CT-", i)}))
		}
		// Initial read: every record and a delta link.
		r := s.must(http.StatusOK, "GET", "accounts?$select=name,accountnumber", nil, "Prefer", "odata.track-changes")
		if r.Header.Get("Preference-Applied") != "odata.track-changes" {
			t.Errorf("Preference-Applied = %q", r.Header.Get("Preference-Applied"))
		}
		m := r.JSON(t)
		if str(m, "@odata.context") != s.URL+"$metadata#accounts(name,accountnumber)" || len(r.Value(t)) != 5 {
			t.Errorf("initial read: %s", r.Body)
		}
		link := str(m, "@odata.deltaLink")
		u, err := url.Parse(link)
		if err != nil || !strings.HasPrefix(link, s.URL+"accounts?$select=name,accountnumber&$deltatoken=") {
			t.Fatalf("deltaLink = %q", link)
		}
		if tok := u.Query().Get("$deltatoken"); !strings.Contains(tok, "!") {
			t.Errorf("delta token %q lacks Dataverse's '<position>!<time>' shape", tok)
		}
		// Nothing changed: an empty delta and a new link.
		r = s.must(http.StatusOK, "GET", link, nil)
		m = r.JSON(t)
		if len(r.Value(t)) != 0 || str(m, "@odata.context") != s.URL+"$metadata#accounts(name,accountnumber)/$delta" || str(m, "@odata.deltaLink") == "" {
			t.Errorf("empty delta: %s", r.Body)
		}
		// One update, one delete, one create; an update twice counts once.
		s.must(http.StatusNoContent, "PATCH", "accounts("+ids[1]+")", map[string]any{"name": "A1 changed"})
		s.must(http.StatusNoContent, "PATCH", "accounts("+ids[1]+")", map[string]any{"name": "A1 changed again"})
		s.must(http.StatusNoContent, "DELETE", "accounts("+ids[2]+")", nil)
		created := s.create("accounts", map[string]any{"name": "new"})
		r = s.must(http.StatusOK, "GET", link, nil)
		vals := r.Value(t)
		if len(vals) != 3 {
			t.Fatalf("delta has %d entries, want 3: %s", len(vals), r.Body)
		}
		// New and updated first, deleted last, as Dataverse orders them.
		last := vals[2]
		if str(last, "@odata.context") != s.URL+"$metadata#accounts/$deletedEntity" || str(last, "id") != ids[2] || last["reason"] != "deleted" {
			t.Errorf("deleted entry = %v", last)
		}
		got := map[string]string{}
		for _, v := range vals[:2] {
			got[str(v, "accountid")] = str(v, "name")
			if !etagRE.MatchString(str(v, "@odata.etag")) {
				t.Errorf("changed record without etag: %v", v)
			}
		}
		if got[ids[1]] != "A1 changed again" || got[created] != "new" {
			t.Errorf("changed records = %v", got)
		}
		next := str(r.JSON(t), "@odata.deltaLink")
		// Counting changes since a token.
		if body := string(s.must(http.StatusOK, "GET", strings.Replace(link, "accounts?", "accounts/$count?", 1), nil).Body); body != "3" {
			t.Errorf("$count of changes = %q, want 3", body)
		}
		// The newest link sees nothing; the old one still works.
		if n := len(s.must(http.StatusOK, "GET", next, nil).Value(t)); n != 0 {
			t.Errorf("newest delta has %d entries", n)
		}
		// Unsupported options are rejected as Dataverse rejects them.
		for opt, name := range map[string]string{"$filter=name%20eq%20'x'": "$filter", "$orderby=name": "$orderby", "$expand=primarycontactid": "$expand", "$top=2": "$top"} {
			expectError(t, s.do("GET", "accounts?"+opt, nil, "Prefer", "odata.track-changes"), http.StatusBadRequest, "",
				`The "`+name+`" query parameter isn't supported when Change Tracking is enabled.`)
		}
		// Tokens that were edited, or have expired, are refused.
		expectError(t, s.do("GET", "accounts?$deltatoken=garbage", nil), http.StatusBadRequest, "0x80060888", "$deltatoken")
		expectError(t, s.do("GET", "accounts?$deltatoken=1%2101%2F01%2F2000%2000%3A00%3A00", nil), http.StatusBadRequest, "", "expired")
		// So is a well-formed token from the future, on both stores: the
		// newest token with its numbers pushed past what was given out.
		u, err = url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		ver, date, _ := strings.Cut(u.Query().Get("$deltatoken"), "!")
		future := regexp.MustCompile(`\d+`).ReplaceAllStringFunc(ver, func(n string) string {
			x, _ := strconv.ParseUint(n, 10, 64)
			return strconv.FormatUint(x+1000000, 10)
		})
		expectError(t, s.do("GET", "accounts?$deltatoken="+url.QueryEscape(future+"!"+date), nil), http.StatusBadRequest, "0x80060888", "$deltatoken")
	})
}

func TestChangeTrackingPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		var ids []string
		for i := range 11 {
			ids = append(ids, s.create("contacts", map[string]any{"lastname": fmt.Sprint("L", i)}))
		}
		changed, _, link := delta(t, s, "contacts?$select=lastname", 3, "Prefer", "odata.track-changes")
		if len(changed) != 11 {
			t.Errorf("initial paged read returned %d records, want 11", len(changed))
		}
		for i := range 7 {
			s.must(http.StatusNoContent, "PATCH", "contacts("+ids[i]+")", map[string]any{"lastname": fmt.Sprint("M", i)})
		}
		for i := 7; i < 11; i++ {
			s.must(http.StatusNoContent, "DELETE", "contacts("+ids[i]+")", nil)
		}
		changed, deleted, _ := delta(t, s, link, 3)
		if len(changed) != 7 || len(deleted) != 4 {
			t.Errorf("paged delta: %d changed, %d deleted; want 7 and 4", len(changed), len(deleted))
		}
	})
}

// mirror copies the changes of a source server's table into a target
// server, the way a sync does: UpsertMultiple for created and updated
// records (lookups bound in a second pass, once every record exists) and a
// $batch of DELETEs for deleted ones. It returns the next delta link.
func mirror(t *testing.T, src, dst *testServer, set, link string) string {
	t.Helper()
	tbl := metadata.Builtin().TableBySet(set)
	path := link
	if path == "" {
		path = set
	}
	changed, deleted, next := delta(t, src, path, 50, "Prefer", `odata.track-changes,odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`)
	var plain, binds []any
	ids := make([]string, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rec := changed[id]
		p := map[string]any{"@odata.type": "Microsoft.Dynamics.CRM." + tbl.LogicalName, tbl.PrimaryIDAttribute: id}
		b := map[string]any{"@odata.type": "Microsoft.Dynamics.CRM." + tbl.LogicalName, tbl.PrimaryIDAttribute: id}
		for _, c := range tbl.Columns {
			v, ok := rec[c.ValueProperty()]
			if !ok || c.System || c.Computed || c.Stamp { // each instance has its own users
				continue
			}
			if c.Type.IsLookup() {
				nav := c.LogicalName
				if c.Type == "customer" && v != nil {
					nav += "_" + str(rec, c.ValueProperty()+"@Microsoft.Dynamics.CRM.lookuplogicalname")
				}
				if v == nil {
					if c.Type != "customer" {
						b[nav+"@odata.bind"] = nil
					}
					continue
				}
				target := metadata.Builtin().Table(c.Targets[0])
				if c.Type == "customer" {
					target = metadata.Builtin().Table(str(rec, c.ValueProperty()+"@Microsoft.Dynamics.CRM.lookuplogicalname"))
				}
				b[nav+"@odata.bind"] = "/" + target.EntitySetName + "(" + fmt.Sprint(v) + ")"
				continue
			}
			p[c.LogicalName] = v
		}
		plain = append(plain, p)
		binds = append(binds, b)
	}
	if len(plain) > 0 {
		dst.must(http.StatusNoContent, "POST", set+"/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": plain})
	}
	if len(deleted) > 0 {
		var body strings.Builder
		body.WriteString("--batch_m\r\nContent-Type: multipart/mixed; boundary=changeset_m\r\n\r\n")
		n := 0
		for id := range deleted {
			n++
			fmt.Fprintf(&body, "--changeset_m\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: %d\r\n\r\nDELETE %s(%s) HTTP/1.1\r\n\r\n\r\n", n, set, id)
		}
		body.WriteString("--changeset_m--\r\n--batch_m--\r\n")
		r := dst.do("POST", "$batch", body.String(), "Content-Type", "multipart/mixed; boundary=batch_m")
		// A record created and deleted between two reads was never mirrored:
		// its DELETE gets 404, which a sync ignores.
		if r.Status != http.StatusOK && !strings.Contains(string(r.Body), "Does Not Exist") {
			t.Fatalf("mirror deletes: %d %s", r.Status, r.Body)
		}
		if r.Status != http.StatusOK {
			for id := range deleted {
				dst.do("DELETE", set+"("+id+")", nil)
			}
		}
	}
	if len(binds) > 0 {
		// Second pass, once every table's records exist: lookups.
		pendingBinds = append(pendingBinds, pending{set: set, targets: binds})
	}
	return next
}

type pending struct {
	set     string
	targets []any
}

var pendingBinds []pending

// flushBinds applies the lookups of mirrored records. A lookup to a record
// the mirror does not have yet (the parent changed after its table was
// read) stays pending for the next round, as a sync without placeholders
// must keep it.
func flushBinds(t *testing.T, dst *testServer) {
	t.Helper()
	var still []pending
	for _, p := range pendingBinds {
		r := dst.do("POST", p.set+"/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": p.targets})
		if r.Status == http.StatusNoContent {
			continue
		}
		if !strings.Contains(string(r.Body), "Does Not Exist") {
			t.Fatalf("bind pass: %d %s", r.Status, r.Body)
		}
		for _, target := range p.targets {
			r := dst.do("POST", p.set+"/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": []any{target}})
			if r.Status != http.StatusNoContent {
				still = append(still, pending{set: p.set, targets: []any{target}})
			}
		}
	}
	pendingBinds = still
}

// snapshot reads every record of a set, without system columns.
func snapshot(t *testing.T, s *testServer, set string) map[string]string {
	t.Helper()
	tbl := metadata.Builtin().TableBySet(set)
	out := map[string]string{}
	for _, rec := range s.must(http.StatusOK, "GET", set, nil).Value(t) {
		for _, c := range tbl.Columns {
			if c.LogicalName == "createdon" || c.LogicalName == "modifiedon" || c.LogicalName == "versionnumber" || c.Stamp {
				delete(rec, c.ValueProperty())
			}
		}
		delete(rec, "@odata.etag")
		data, _ := json.Marshal(rec)
		out[str(rec, tbl.PrimaryIDAttribute)] = string(data)
	}
	return out
}

// TestMirrorThroughChangeTracking mirrors accounts and contacts from one
// instance to another using only documented calls (delta links,
// UpsertMultiple, $batch), while a writer keeps changing the source, and
// checks that the target equals the source afterwards, deletes included.
func TestMirrorThroughChangeTracking(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *testServer) {
		b := newServer(t, a.kind, metadata.Builtin())
		pendingBinds = nil
		var accts, contacts []string
		for i := range 8 {
			accts = append(accts, a.create("accounts", map[string]any{"name": fmt.Sprint("Acct ", i), "accountnumber": fmt.Sprint("M-", i), "revenue": 1000 * i}))
		}
		for i := range 8 {
			contacts = append(contacts, a.create("contacts", map[string]any{"firstname": fmt.Sprint("F", i), "lastname": "Mirror",
				"parentcustomerid_account@odata.bind": "/accounts(" + accts[i%len(accts)] + ")"}))
		}
		links := map[string]string{}
		syncOnce := func() {
			for _, set := range []string{"accounts", "contacts"} {
				links[set] = mirror(t, a, b, set, links[set])
			}
			flushBinds(t, b)
		}
		syncOnce()
		// Change the source while syncing.
		stop := testrun.Loop(func(i int) bool {
			switch i % 4 {
			case 0:
				id := uuid.NewString()
				a.do("PATCH", "accounts("+id+")", map[string]any{"name": fmt.Sprint("Live ", i)})
				a.do("POST", "contacts", map[string]any{"lastname": fmt.Sprint("Live ", i), "parentcustomerid_account@odata.bind": "/accounts(" + id + ")"})
			case 1:
				a.do("PATCH", "accounts("+accts[i%len(accts)]+")", map[string]any{"telephone1": fmt.Sprint(i), "primarycontactid@odata.bind": "/contacts(" + contacts[i%len(contacts)] + ")"})
			case 2:
				a.do("PATCH", "contacts("+contacts[i%len(contacts)]+")", map[string]any{"jobtitle": fmt.Sprint("t", i)})
			case 3:
				if i%12 == 3 {
					id := uuid.NewString()
					a.do("PATCH", "contacts("+id+")", map[string]any{"lastname": "short-lived"})
					a.do("DELETE", "contacts("+id+")", nil)
				}
			}
			return true
		})
		deadline := time.Now().Add(800 * time.Millisecond)
		for time.Now().Before(deadline) {
			syncOnce()
		}
		stop()
		a.must(http.StatusNoContent, "DELETE", "accounts("+accts[0]+")", nil)
		a.must(http.StatusNoContent, "DELETE", "contacts("+contacts[1]+")", nil)
		syncOnce()
		syncOnce()
		for _, set := range []string{"accounts", "contacts"} {
			sa, sb := snapshot(t, a, set), snapshot(t, b, set)
			if len(sa) != len(sb) {
				t.Errorf("%s: source has %d records, mirror %d", set, len(sa), len(sb))
			}
			for id, rec := range sa {
				if sb[id] != rec {
					t.Errorf("%s(%s) differs:\nsource %s\nmirror %s", set, id, rec, sb[id])
				}
			}
		}
	})
}
