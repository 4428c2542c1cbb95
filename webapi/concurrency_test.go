package webapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// TestConcurrentUpsertSameKey races many clients upserting the same
// alternate key: exactly one record results and no request fails.
func TestConcurrentUpsertSameKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		const writers = 64
		var wg sync.WaitGroup
		statuses := make(chan int, writers*2)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.do("PATCH", "accounts(accountnumber='RACE-1')", map[string]any{"name": fmt.Sprint("writer ", w)})
				statuses <- r.Status
				r = s.do("PATCH", "contacts(firstname='Race',emailaddress1='race%40example.com')", map[string]any{"lastname": fmt.Sprint("w", w)})
				statuses <- r.Status
			}()
		}
		wg.Wait()
		close(statuses)
		for st := range statuses {
			if st != http.StatusNoContent {
				t.Errorf("concurrent upsert status %d, want 204", st)
			}
		}
		if n := s.count("accounts", "accountnumber eq 'RACE-1'"); n != 1 {
			t.Errorf("%d accounts with the raced key, want 1", n)
		}
		if n := s.count("contacts", "emailaddress1 eq 'race@example.com'"); n != 1 {
			t.Errorf("%d contacts with the raced composite key, want 1", n)
		}
	})
}

// TestConcurrentMixedWrites runs creates, updates with ETags and deletes
// concurrently; every request gets a documented status and the final state
// matches the successful requests.
func TestConcurrentMixedWrites(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		id := uuid.NewString()
		s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "v0", "numberofemployees": 0})
		const writers = 32
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=numberofemployees", nil).JSON(t)
				etag := str(m, "@odata.etag")
				r := s.do("PATCH", "accounts("+id+")", map[string]any{"name": fmt.Sprint("w", w)}, "If-Match", etag)
				switch r.Status {
				case http.StatusNoContent:
					mu.Lock()
					won++
					mu.Unlock()
				case http.StatusPreconditionFailed:
				default:
					t.Errorf("optimistic update status %d: %s", r.Status, r.Body)
				}
				s.create("contacts", map[string]any{"lastname": fmt.Sprint("c", w)})
			}()
		}
		wg.Wait()
		if won < 1 {
			t.Errorf("no optimistic update won")
		}
		if n := s.count("contacts", ""); n != writers {
			t.Errorf("%d contacts, want %d", n, writers)
		}
	})
}
