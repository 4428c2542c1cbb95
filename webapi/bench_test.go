package webapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

// benchStores runs a benchmark once per store (PostgreSQL when
// EVENTUAL_TEST_POSTGRES is set).
func benchStores(b *testing.B, fn func(b *testing.B, s *testServer)) {
	for _, st := range stores {
		b.Run(st.Name, func(b *testing.B) { fn(b, newServer(b, st, metadata.Builtin())) })
	}
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
	start, cpu := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn(c, n.Add(1))
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	reportCPU(b, cpu, b.N)
}

// cpuTime is the CPU time the process has used (user and system). On a
// shared machine whose other tenants take cores away, the CPU a request
// costs holds still where rates drift.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time since from per operation, in
// microseconds (client and server both, for the HTTP benchmarks).
func reportCPU(b *testing.B, from time.Duration, n int) {
	b.ReportMetric(float64(cpuTime()-from)/float64(time.Microsecond)/float64(n), "cpu-us/op")
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
	start, cpu := time.Now(), cpuTime()
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
	reportCPU(b, cpu, b.N)
}

// BenchmarkHTTPTrivial is the HTTP ceiling: a net/http server that reads
// the body of the same POSTs and answers 204, through the same clients.
func BenchmarkHTTPTrivial(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	parallel(b, &testServer{URL: ts.URL + "/"}, func(c *http.Client, i int64) {
		send(b, c, "POST", ts.URL+"/accounts", fmt.Appendf(nil, `{"name":"Account %d","accountnumber":"C-%d"}`, i, i), http.StatusNoContent)
	})
}

func BenchmarkHTTPCreate(b *testing.B) {
	benchStores(b, func(b *testing.B, s *testServer) {
		parallel(b, s, func(c *http.Client, i int64) {
			send(b, c, "POST", s.URL+"accounts", fmt.Appendf(nil, `{"name":"Account %d","accountnumber":"C-%d"}`, i, i), http.StatusNoContent)
		})
	})
}

func BenchmarkHTTPUpsertByKey(b *testing.B) {
	benchStores(b, func(b *testing.B, s *testServer) {
		parallel(b, s, func(c *http.Client, i int64) {
			send(b, c, "PATCH", fmt.Sprintf("%saccounts(accountnumber='U-%d')", s.URL, i), fmt.Appendf(nil, `{"name":"Account %d"}`, i), http.StatusNoContent)
		})
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
	benchStores(b, func(b *testing.B, s *testServer) {
		const n = 10000
		seed(b, s, n)
		parallel(b, s, func(c *http.Client, i int64) {
			send(b, c, "GET", fmt.Sprintf("%saccounts(accountnumber='S-%d')?$select=name,numberofemployees", s.URL, i%n), nil, http.StatusOK)
		})
	})
}

// BenchmarkHTTPFilterQuery100k runs a $filter over 100,000 rows that
// selects 100 of them (numberofemployees is not indexed: a full scan).
func BenchmarkHTTPFilterQuery100k(b *testing.B) {
	benchStores(b, func(b *testing.B, s *testServer) {
		seed(b, s, 100000)
		parallel(b, s, func(c *http.Client, i int64) {
			q := fmt.Sprintf("$select=name&$filter=numberofemployees%%20eq%%20%d%%20and%%20statecode%%20eq%%200", i%1000)
			send(b, c, "GET", s.URL+"accounts?"+q, nil, http.StatusOK)
		})
	})
}

// BenchmarkHTTPFilterQueryIndexed100k filters on the alternate key over
// 100,000 rows (an index seek), with a contains() on the name.
func BenchmarkHTTPFilterQueryIndexed100k(b *testing.B) {
	benchStores(b, func(b *testing.B, s *testServer) {
		seed(b, s, 100000)
		parallel(b, s, func(c *http.Client, i int64) {
			q := "$select=name&$filter=" + strings.ReplaceAll(fmt.Sprintf("accountnumber eq 'S-%d' and contains(name,'Account')", i%100000), " ", "%20")
			send(b, c, "GET", s.URL+"accounts?"+q, nil, http.StatusOK)
		})
	})
}

// pgxBench connects to a fresh PostgreSQL schema with an account table
// shaped like the store's.
func pgxBench(b *testing.B) (*pgx.Conn, func()) {
	b.Helper()
	if testpg.DSN() == "" {
		b.Skipf("set %s to benchmark PostgreSQL", testpg.EnvDSN)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testpg.Schema(b, "raw"))
	if err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE SEQUENCE v`,
		`CREATE TABLE account (accountid uuid PRIMARY KEY, versionnumber bigint NOT NULL, name text COLLATE "C",
			accountnumber text COLLATE "C", createdon timestamptz, modifiedon timestamptz)`,
		`CREATE UNIQUE INDEX ak ON account ((lower(accountnumber) COLLATE "C"))`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	return conn, func() { conn.Close(ctx) }
}

const rawPgxUpsert = `INSERT INTO account (accountid, versionnumber, name, accountnumber, createdon, modifiedon)
	VALUES ($1, nextval('v'), $2, $3, $4, $4)
	ON CONFLICT ((lower(accountnumber) COLLATE "C")) DO UPDATE SET name = excluded.name, versionnumber = excluded.versionnumber, modifiedon = excluded.modifiedon`

// BenchmarkRawPgxUpsert is the PostgreSQL baseline for single writes: one
// row per transaction (autocommit), one connection, synchronous_commit as
// the server has it.
func BenchmarkRawPgxUpsert(b *testing.B) {
	conn, done := pgxBench(b)
	defer done()
	ctx := context.Background()
	now := time.Now().UTC()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if _, err := conn.Exec(ctx, rawPgxUpsert, uuid.New(), fmt.Sprint("Account ", i), fmt.Sprint("RAW-", i), now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkRawPgxBatchUpsert is the PostgreSQL baseline for bulk writes:
// 1000 upserts per transaction, sent as one pipelined batch.
func BenchmarkRawPgxBatchUpsert(b *testing.B) {
	benchPgxBatches(b, func(ctx context.Context, conn *pgx.Conn, n int, now time.Time) error {
		batch := &pgx.Batch{}
		for i := range pgxBatchSize {
			batch.Queue(rawPgxUpsert, uuid.New(), fmt.Sprint("Account ", n+i), fmt.Sprint("RAW-", n+i), now)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// BenchmarkRawPgxCopy is the PostgreSQL ceiling for bulk inserts: COPY of
// 1000 new rows per transaction.
func BenchmarkRawPgxCopy(b *testing.B) {
	benchPgxBatches(b, func(ctx context.Context, conn *pgx.Conn, n int, now time.Time) error {
		rows := make([][]any, pgxBatchSize)
		for i := range rows {
			rows[i] = []any{uuid.New(), int64(n + i), fmt.Sprint("Account ", n+i), fmt.Sprint("RAW-", n+i), now, now}
		}
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"account"}, []string{"accountid", "versionnumber", "name", "accountnumber", "createdon", "modifiedon"}, pgx.CopyFromRows(rows))
		return err
	})
}

// pgxBatchSize is the rows a raw pgx bulk baseline writes per transaction.
const pgxBatchSize = 1000

// benchPgxBatches runs a raw pgx bulk baseline: each loop calls write for
// pgxBatchSize rows numbered from n, and the rows per second are reported.
func benchPgxBatches(b *testing.B, write func(ctx context.Context, conn *pgx.Conn, n int, now time.Time) error) {
	conn, done := pgxBench(b)
	defer done()
	ctx := context.Background()
	now := time.Now().UTC()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := write(ctx, conn, n, now); err != nil {
			b.Fatal(err)
		}
		n += pgxBatchSize
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}

// rawSQLite opens a raw SQLite database with an account table shaped like
// the store's, for the baselines.
func rawSQLite(b *testing.B) (*sql.DB, *sql.Stmt) {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(normal)&_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{
		`CREATE TABLE account (accountid TEXT PRIMARY KEY NOT NULL, versionnumber INTEGER NOT NULL, name TEXT COLLATE NOCASE,
			accountnumber TEXT COLLATE NOCASE, createdon TEXT, modifiedon TEXT) WITHOUT ROWID`,
		`CREATE UNIQUE INDEX ak ON account (accountnumber)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatal(err)
		}
	}
	stmt, err := db.Prepare(`INSERT INTO account (accountid, versionnumber, name, accountnumber, createdon, modifiedon) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (accountnumber) DO UPDATE SET name = excluded.name, versionnumber = excluded.versionnumber, modifiedon = excluded.modifiedon`)
	if err != nil {
		b.Fatal(err)
	}
	return db, stmt
}

// BenchmarkRawSQLiteBatchUpsert is the baseline for bulk writes: 1000
// upserts per transaction straight into SQLite.
func BenchmarkRawSQLiteBatchUpsert(b *testing.B) {
	db, stmt := rawSQLite(b)
	defer db.Close()
	now := time.Now().UTC().Format(time.RFC3339)
	const size = 1000
	n := 0
	start := time.Now()
	for b.Loop() {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		st := tx.Stmt(stmt)
		for range size {
			if _, err := st.Exec(uuid.NewString(), n, fmt.Sprint("Account ", n), fmt.Sprint("RAW-", n%50000), now, now); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
}

// bulkBody returns an UpsertMultiple body of size accounts by alternate
// key, numbered from first.
func bulkBody(first, size int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"Targets":[`)
	for i := range size {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"@odata.type":"Microsoft.Dynamics.CRM.account","@odata.id":"accounts(accountnumber='B-%d')","name":"Account %d"}`, (first+i)%50000, first+i)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkHTTPUpsertMultiple1000 sends UpsertMultiple requests of 1000
// accounts by alternate key (creates at first, then updates), one client
// at a time, as a sync would.
func BenchmarkHTTPUpsertMultiple1000(b *testing.B) {
	benchRowBatches(b, 1000, func(b *testing.B, s *testServer, c *http.Client, n, size int) {
		send(b, c, "POST", s.URL+"accounts/Microsoft.Dynamics.CRM.UpsertMultiple", bulkBody(n, size), http.StatusNoContent)
	})
}

// benchRowBatches runs one batch of size rows per iteration on every store,
// passing the count of rows sent before it, and reports rows per second.
func benchRowBatches(b *testing.B, size int, batch func(b *testing.B, s *testServer, c *http.Client, n, size int)) {
	b.Helper()
	benchStores(b, func(b *testing.B, s *testServer) {
		c := &http.Client{}
		n := 0
		start := time.Now()
		for b.Loop() {
			batch(b, s, c, n, size)
			n += size
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
	})
}

// BenchmarkHTTPBatch1000Patches sends $batch requests holding one change
// set of 1000 PATCH upserts by alternate key.
func BenchmarkHTTPBatch1000Patches(b *testing.B) {
	benchRowBatches(b, 1000, func(b *testing.B, s *testServer, c *http.Client, n, size int) {
		var buf bytes.Buffer
		buf.WriteString("--batch_b\r\nContent-Type: multipart/mixed; boundary=changeset_b\r\n\r\n")
		for i := range size {
			fmt.Fprintf(&buf, "--changeset_b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: %d\r\n\r\n"+
				"PATCH accounts(accountnumber='P-%d') HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"Account %d\"}\r\n", i+1, (n+i)%50000, n+i)
		}
		buf.WriteString("--changeset_b--\r\n--batch_b--\r\n")
		req, _ := http.NewRequest("POST", s.URL+"$batch", &buf)
		req.Header.Set("Content-Type", "multipart/mixed; boundary=batch_b")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("$batch: %d", resp.StatusCode)
		}
	})
}

// BenchmarkHTTPDeltaRead100k reads a delta of 100,000 changed accounts
// through the delta link, in pages of 5000, and reports rows per second.
func BenchmarkHTTPDeltaRead100k(b *testing.B) {
	benchStores(b, func(b *testing.B, s *testServer) {
		c := &http.Client{}
		r := s.must(http.StatusOK, "GET", "accounts?$select=name", nil, "Prefer", "odata.track-changes")
		link := str(r.JSON(b), "@odata.deltaLink")
		seed(b, s, 100000)
		rows := 0
		start := time.Now()
		for b.Loop() {
			next := link
			for next != "" {
				req, _ := http.NewRequest("GET", next, nil)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var page struct {
					Value []json.RawMessage `json:"value"`
					Next  string            `json:"@odata.nextLink"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				rows += len(page.Value)
				next = page.Next
			}
		}
		if rows < 100000 {
			b.Fatalf("delta returned %d rows, want 100000", rows)
		}
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
	})
}

// BenchmarkPlaceholderBindExisting creates contacts bound to existing
// accounts, with and without the placeholder step: the step's overhead on
// the happy path.
func BenchmarkPlaceholderBindExisting(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "step=off"
		if on {
			name = "step=on"
		}
		b.Run(name, func(b *testing.B) {
			benchStores(b, func(b *testing.B, s *testServer) {
				const n = 1000
				seed(b, s, n)
				if on {
					withPlaceholders(b, s, eventual.PreValidation)
				}
				parallel(b, s, func(c *http.Client, i int64) {
					send(b, c, "POST", s.URL+"contacts", fmt.Appendf(nil,
						`{"lastname":"Contact %d","parentcustomerid_account@odata.bind":"/accounts(accountnumber='S-%d')"}`, i, i%n), http.StatusNoContent)
				})
			})
		})
	}
}

// BenchmarkPlaceholderBindMissing creates contacts bound to accounts that
// do not exist (each request makes a placeholder), against the plain
// alternative of creating both records: the account then the contact, in
// two requests, or in one deep insert.
func BenchmarkPlaceholderBindMissing(b *testing.B) {
	b.Run("placeholder", func(b *testing.B) {
		benchStores(b, func(b *testing.B, s *testServer) {
			withPlaceholders(b, s, eventual.PreValidation)
			parallel(b, s, func(c *http.Client, i int64) {
				send(b, c, "POST", s.URL+"contacts", fmt.Appendf(nil,
					`{"lastname":"Contact %d","parentcustomerid_account@odata.bind":"/accounts(accountnumber='M-%d')"}`, i, i), http.StatusNoContent)
			})
		})
	})
	b.Run("two-creates", func(b *testing.B) {
		benchStores(b, func(b *testing.B, s *testServer) {
			parallel(b, s, func(c *http.Client, i int64) {
				send(b, c, "POST", s.URL+"accounts", fmt.Appendf(nil, `{"name":"Account %d","accountnumber":"M-%d"}`, i, i), http.StatusNoContent)
				send(b, c, "POST", s.URL+"contacts", fmt.Appendf(nil,
					`{"lastname":"Contact %d","parentcustomerid_account@odata.bind":"/accounts(accountnumber='M-%d')"}`, i, i), http.StatusNoContent)
			})
		})
	})
	b.Run("deep-insert", func(b *testing.B) {
		benchStores(b, func(b *testing.B, s *testServer) {
			parallel(b, s, func(c *http.Client, i int64) {
				send(b, c, "POST", s.URL+"contacts", fmt.Appendf(nil,
					`{"lastname":"Contact %d","parentcustomerid_account":{"name":"Account %d","accountnumber":"M-%d"}}`, i, i, i), http.StatusNoContent)
			})
		})
	})
}

// sinkWriter is a ResponseWriter that keeps nothing but the status, so
// that a handler benchmark measures the handler alone.
type sinkWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *sinkWriter) Header() http.Header { return w.h }

func (w *sinkWriter) WriteHeader(code int) { w.status = code }

func (w *sinkWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// BenchmarkHandlerRetrieveByKey runs the Web API handler in process, with
// no network, on the request BenchmarkHTTPRetrieveByKey sends: its
// allocations per operation are what the handler and the store cost a
// retrieve, without net/http's.
func BenchmarkHandlerRetrieveByKey(b *testing.B) {
	benchStores(b, func(b *testing.B, s *testServer) {
		const n = 10000
		seed(b, s, n)
		h := s.Server.Handler()
		urls := make([]string, 64)
		for i := range urls {
			urls[i] = fmt.Sprintf("%saccounts(accountnumber='S-%d')?$select=name,numberofemployees", s.URL, i*97%n)
		}
		w := &sinkWriter{h: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			req := httptest.NewRequest("GET", urls[i%len(urls)], nil)
			req.Header.Set("OData-Version", "4.0")
			req.Header.Set("Accept", "application/json")
			clear(w.h)
			w.status, w.n = 0, 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK || w.n == 0 {
				b.Fatalf("status %d, %d bytes", w.status, w.n)
			}
		}
	})
}

// BenchmarkHandlerUpsertByKey runs the Web API handler in process on the
// request dvload's upsert mode sends (PATCH by alternate key, a small
// body, new keys: each one inserts): its allocations per operation are
// what the handler, the instance and the store cost a write, without
// net/http's.
func BenchmarkHandlerUpsertByKey(b *testing.B) {
	benchHandlerWrite(b, "PATCH", func(s *testServer, i int) (string, string) {
		return fmt.Sprintf("%saccounts(accountnumber='U-%d')", s.URL, i),
			fmt.Sprintf(`{"name":"Load %d","telephone1":"555-%04d","revenue":%d}`, i, i%10000, i)
	})
}

// BenchmarkHandlerCreate is BenchmarkHandlerUpsertByKey for dvload's
// create mode (POST).
func BenchmarkHandlerCreate(b *testing.B) {
	benchHandlerWrite(b, "POST", func(s *testServer, i int) (string, string) {
		return s.URL + "accounts", fmt.Sprintf(`{"name":"Load %d","accountnumber":"C-%d","revenue":%d}`, i, i, i)
	})
}

// benchHandlerWrite runs one write request per operation through the
// handler, with the headers dvload sends, and checks it succeeded.
func benchHandlerWrite(b *testing.B, method string, request func(s *testServer, i int) (url, body string)) {
	benchStores(b, func(b *testing.B, s *testServer) {
		h := s.Server.Handler()
		w := &sinkWriter{h: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			url, body := request(s, i)
			req := httptest.NewRequest(method, url, strings.NewReader(body))
			req.Header.Set("Accept", "application/json")
			req.Header.Set("OData-MaxVersion", "4.0")
			req.Header.Set("OData-Version", "4.0")
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			clear(w.h)
			w.status, w.n = 0, 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusNoContent {
				b.Fatalf("%s %s: status %d", method, url, w.status)
			}
		}
	})
}
