package webapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// Benchmarks of the Web API against the raw database, in one run:
//
//	go test -run '^$' -bench . -benchtime 3s ./webapi
//
// BenchmarkRawSQLiteUpsert is the baseline: one row per transaction
// straight into SQLite through the same driver and settings (WAL,
// synchronous=NORMAL). The HTTP benchmarks go through a real loopback
// server with 8 concurrent keep-alive connections, as a client would.

// benchClients is the number of concurrent HTTP clients.
const benchClients = 8

func benchServer(b *testing.B) *testServer {
	b.Helper()
	return newServer(b, stores[0], metadata.Builtin())
}

// parallel runs fn on benchClients goroutines with a shared HTTP client.
func parallel(b *testing.B, s *testServer, fn func(c *http.Client, i int64)) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}
	c := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var n atomic.Int64
	b.SetParallelism((benchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn(c, n.Add(1))
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func send(b *testing.B, c *http.Client, method, url string, body []byte, want int) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OData-Version", "4.0")
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
}

func BenchmarkRawSQLiteUpsert(b *testing.B) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(normal)&_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE account (accountid TEXT PRIMARY KEY NOT NULL, versionnumber INTEGER NOT NULL, name TEXT COLLATE NOCASE,
		accountnumber TEXT COLLATE NOCASE, createdon TEXT, modifiedon TEXT) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`CREATE UNIQUE INDEX ak ON account (accountnumber)`); err != nil {
		b.Fatal(err)
	}
	stmt, err := db.Prepare(`INSERT INTO account (accountid, versionnumber, name, accountnumber, createdon, modifiedon) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (accountnumber) DO UPDATE SET name = excluded.name, versionnumber = excluded.versionnumber, modifiedon = excluded.modifiedon`)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	now := time.Now().UTC().Format(time.RFC3339)
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Stmt(stmt).Exec(uuid.NewString(), i, fmt.Sprint("Account ", i), fmt.Sprint("RAW-", i), now, now); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

func BenchmarkHTTPCreate(b *testing.B) {
	s := benchServer(b)
	parallel(b, s, func(c *http.Client, i int64) {
		send(b, c, "POST", s.URL+"accounts", fmt.Appendf(nil, `{"name":"Account %d","accountnumber":"C-%d"}`, i, i), http.StatusNoContent)
	})
}

func BenchmarkHTTPUpsertByKey(b *testing.B) {
	s := benchServer(b)
	parallel(b, s, func(c *http.Client, i int64) {
		send(b, c, "PATCH", fmt.Sprintf("%saccounts(accountnumber='U-%d')", s.URL, i), fmt.Appendf(nil, `{"name":"Account %d"}`, i), http.StatusNoContent)
	})
}

// seed inserts n accounts straight through the store, in batches.
func seed(b *testing.B, s *testServer, n int) {
	b.Helper()
	t := s.Instance.Schema.Table("account")
	ctx := context.Background()
	for done := 0; done < n; {
		err := s.Store.Update(ctx, func(tx eventual.Tx) error {
			for i := done; i < min(done+5000, n); i++ {
				rec := &eventual.Record{Table: t, ID: uuid.New(), Values: eventual.Values{
					"name": fmt.Sprint("Account ", i), "accountnumber": fmt.Sprint("S-", i),
					"numberofemployees": int64(i % 1000), "statecode": int64(0), "statuscode": int64(1),
				}}
				if err := tx.Insert(ctx, rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done = min(done+5000, n)
	}
}

func BenchmarkHTTPRetrieveByKey(b *testing.B) {
	s := benchServer(b)
	const n = 10000
	seed(b, s, n)
	parallel(b, s, func(c *http.Client, i int64) {
		send(b, c, "GET", fmt.Sprintf("%saccounts(accountnumber='S-%d')?$select=name,numberofemployees", s.URL, i%n), nil, http.StatusOK)
	})
}

// BenchmarkHTTPFilterQuery100k runs a $filter over 100,000 rows that
// selects 100 of them (numberofemployees is not indexed: a full scan).
func BenchmarkHTTPFilterQuery100k(b *testing.B) {
	s := benchServer(b)
	seed(b, s, 100000)
	parallel(b, s, func(c *http.Client, i int64) {
		q := fmt.Sprintf("$select=name&$filter=numberofemployees%%20eq%%20%d%%20and%%20statecode%%20eq%%200", i%1000)
		send(b, c, "GET", s.URL+"accounts?"+q, nil, http.StatusOK)
	})
}

// BenchmarkHTTPFilterQueryIndexed100k filters on the alternate key over
// 100,000 rows (an index seek), with a contains() on the name.
func BenchmarkHTTPFilterQueryIndexed100k(b *testing.B) {
	s := benchServer(b)
	seed(b, s, 100000)
	parallel(b, s, func(c *http.Client, i int64) {
		q := "$select=name&$filter=" + strings.ReplaceAll(fmt.Sprintf("accountnumber eq 'S-%d' and contains(name,'Account')", i%100000), " ", "%20")
		send(b, c, "GET", s.URL+"accounts?"+q, nil, http.StatusOK)
	})
}
