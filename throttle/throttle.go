package throttle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventual-pp/eventual/codec"
)

// Limits are the service-protection limits of one user.
type Limits struct {
	// Requests is how many requests a window may hold.
	Requests int
	// ExecutionTime is the combined execution time a window may hold.
	ExecutionTime time.Duration
	// Concurrent is how many requests may be in flight at once.
	Concurrent int
	// Window is the sliding window of Requests and ExecutionTime.
	Window time.Duration
}

// Dataverse returns the documented default limits per web server: 6,000
// requests and 1,200 s of execution time in 300 s, 52 concurrent
// requests.
func Dataverse() Limits {
	return Limits{Requests: 6000, ExecutionTime: 1200 * time.Second, Concurrent: 52, Window: 300 * time.Second}
}

// Validate checks that every limit is positive.
func (l Limits) Validate() error {
	if l.Requests < 1 || l.ExecutionTime <= 0 || l.Concurrent < 1 || l.Window <= 0 {
		return fmt.Errorf("service protection: requests, executionTime, concurrent and window must be positive (got %d, %v, %d, %v)",
			l.Requests, l.ExecutionTime, l.Concurrent, l.Window)
	}
	return nil
}

// The error codes of the three limits (api-limits.md).
const (
	CodeRequests      = "0x80072322"
	CodeExecutionTime = "0x80072321"
	CodeConcurrent    = "0x80072326"
)

// Options tune a Guard.
type Options struct {
	// Identity names the user a request comes from; the default is the
	// request's Authorization header, hashed ("anonymous" without one).
	Identity func(*http.Request) string
	// Now is the clock (time.Now).
	Now func() time.Time
	// DOPHint is the x-ms-dop-hint every response carries, the degree of
	// parallelism a client should use; default 2 per CPU, at most
	// Concurrent.
	DOPHint int
}

// Guard enforces Limits on the requests of each user.
type Guard struct {
	limits   Limits
	identity func(*http.Request) string
	now      func() time.Time
	dop      string

	mu        sync.Mutex
	users     map[string]*user
	lastPrune time.Time
}

// user is one identity's window.
type user struct {
	starts   []time.Time // counted requests' start times, oldest first
	runs     []run       // ended requests, by end, oldest first
	spent    time.Duration
	inflight int
}

// run is one ended request's execution time.
type run struct {
	end  time.Time
	took time.Duration
}

// New returns a guard of limits l.
func New(l Limits, o Options) *Guard {
	g := &Guard{limits: l, identity: o.Identity, now: o.Now, users: map[string]*user{}}
	if g.identity == nil {
		g.identity = AuthorizationIdentity
	}
	if g.now == nil {
		g.now = time.Now
	}
	dop := o.DOPHint
	if dop <= 0 {
		dop = min(2*runtime.GOMAXPROCS(0), l.Concurrent)
	}
	g.dop = strconv.Itoa(dop)
	return g
}

// AuthorizationIdentity names a request's user by its bearer token
// (hashed, so that no token is kept; the scheme's case and the spaces
// around the token do not make another user), "anonymous" without one.
func AuthorizationIdentity(r *http.Request) string {
	a := strings.TrimSpace(r.Header.Get("Authorization"))
	if scheme, token, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
		a = "Bearer " + strings.TrimSpace(token)
	}
	if a == "" {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(a))
	return hex.EncodeToString(sum[:8])
}

// refusal is a request the limits refuse.
type refusal struct {
	code, message string
	retryAfter    time.Duration
}

// Handler returns next guarded by the limits. CORS preflights (OPTIONS)
// pass uncounted.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		id := g.identity(r)
		start := g.now()
		burst, left, no := g.admit(id, start)
		h := w.Header()
		h.Set(codec.HeaderBurstRemaining, strconv.Itoa(burst))
		h.Set(codec.HeaderTimeRemaining, FormatSeconds(left))
		h.Set("x-ms-dop-hint", g.dop)
		if no != nil {
			secs := max(int64((no.retryAfter+time.Second-1)/time.Second), 1)
			h.Set("Retry-After", strconv.FormatInt(secs, 10))
			body := codec.ErrorBody(no.code, no.message, http.StatusTooManyRequests, false)
			h.Set("Content-Type", "application/json; odata.metadata=minimal")
			h.Set(codec.HeaderODataVersion, "4.0")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(body)
			return
		}
		defer func() { g.release(id, start, g.now()) }()
		next.ServeHTTP(w, r)
	})
}

// admit counts a request of user id starting at now, or refuses it. It
// returns the requests and the execution time left in the window.
func (g *Guard) admit(id string, now time.Time) (burst int, left time.Duration, no *refusal) {
	l := g.limits
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prune(now)
	u := g.users[id]
	if u == nil {
		u = &user{}
		g.users[id] = u
	}
	u.trim(now.Add(-l.Window))
	left = max(l.ExecutionTime-u.spent, 0)
	burst = max(l.Requests-len(u.starts), 0)
	switch {
	case u.inflight >= l.Concurrent:
		return burst, left, &refusal{CodeConcurrent, fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", l.Concurrent), time.Second}
	case len(u.starts) >= l.Requests:
		// Free once the request that makes the window full leaves it.
		free := u.starts[len(u.starts)-l.Requests].Add(l.Window)
		return 0, left, &refusal{CodeRequests, fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.",
			l.Requests, int64(l.Window/time.Second)), free.Sub(now)}
	case u.spent >= l.ExecutionTime:
		// Free once enough of the time spent leaves the window.
		spent, free := u.spent, now
		for _, r := range u.runs {
			spent -= r.took
			if spent < l.ExecutionTime {
				free = r.end.Add(l.Window)
				break
			}
		}
		return burst, 0, &refusal{CodeExecutionTime, fmt.Sprintf("Combined execution time of incoming requests exceeded limit of %s milliseconds over time window of %d seconds. "+
			"Decrease number of concurrent requests or reduce the duration of requests and try again later.",
			group(int64(l.ExecutionTime/time.Millisecond)), int64(l.Window/time.Second)), free.Sub(now)}
	}
	u.starts = append(u.starts, now)
	u.inflight++
	return burst - 1, left, nil
}

// release ends a request of user id that ran from start to end.
func (g *Guard) release(id string, start, end time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u := g.users[id]
	if u == nil {
		return
	}
	u.inflight--
	took := max(end.Sub(start), 0)
	u.runs = append(u.runs, run{end: end, took: took})
	u.spent += took
}

// trim drops what is older than since (the window's start).
func (u *user) trim(since time.Time) {
	n := 0
	for n < len(u.starts) && !u.starts[n].After(since) {
		n++
	}
	u.starts = dropFront(u.starts, n)
	n = 0
	for n < len(u.runs) && !u.runs[n].end.After(since) {
		u.spent -= u.runs[n].took
		n++
	}
	u.runs = dropFront(u.runs, n)
}

// dropFront removes s's first n elements, reusing its array once more
// than half of it is dropped.
func dropFront[T any](s []T, n int) []T {
	if n == 0 {
		return s
	}
	if n > cap(s)/2 {
		return append(s[:0:0], s[n:]...)
	}
	return s[n:]
}

// prune forgets, once a minute, the users with nothing in their window
// and nothing in flight, so that a stream of identities cannot grow the
// map without bound.
func (g *Guard) prune(now time.Time) {
	if now.Sub(g.lastPrune) < time.Minute {
		return
	}
	g.lastPrune = now
	since := now.Add(-g.limits.Window)
	for id, u := range g.users {
		u.trim(since)
		if u.inflight == 0 && len(u.starts) == 0 && len(u.runs) == 0 {
			delete(g.users, id)
		}
	}
}

// FormatSeconds writes a duration as Dataverse writes the execution time
// left: seconds with two decimals and a comma between thousands
// ("1,199.46").
func FormatSeconds(d time.Duration) string {
	cents := int64((d + 5*time.Millisecond) / (10 * time.Millisecond))
	return group(cents/100) + "." + fmt.Sprintf("%02d", cents%100)
}

// group writes n with a comma between thousands.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
