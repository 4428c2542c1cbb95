package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/eventual-pp/eventual/internal/httpserver"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/prometheus/client_golang/prometheus"
)

// methods are the method labels; any other method counts as "other".
var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// Middleware counts and times the requests next serves, labelled with the
// route template the Web API noted (webapi.RouteNoter; "unmatched" when
// the request matched no route), the method and the status.
func (m *Serve) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{StatusWriter: httpserver.StatusWriter{ResponseWriter: w, Status: http.StatusOK}}
		next.ServeHTTP(sw, r)
		route := sw.route
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		if !methods[method] {
			method = "other"
		}
		o := m.requestObservers(requestLabels{route, method, sw.Status})
		o.requests.Inc()
		o.duration.Observe(time.Since(start).Seconds())
	})
}

// requestLabels are the labels of a request's metrics.
type requestLabels struct {
	route, method string
	status        int
}

// requestObservers are the metrics' children for one set of labels.
type requestObservers struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// requestObservers returns the children for the labels, cached: routes,
// methods and statuses are few.
func (m *Serve) requestObservers(l requestLabels) *requestObservers {
	if o, ok := m.observers.Load(l); ok {
		return o.(*requestObservers)
	}
	o := &requestObservers{
		requests: m.requests.WithLabelValues(l.route, l.method, strconv.Itoa(l.status)),
		duration: m.duration.WithLabelValues(l.route, l.method),
	}
	actual, _ := m.observers.LoadOrStore(l, o)
	return actual.(*requestObservers)
}

// statusWriter remembers the status a handler wrote and the route
// template the Web API noted.
type statusWriter struct {
	httpserver.StatusWriter
	route string
}

var _ webapi.RouteNoter = (*statusWriter)(nil)

// NoteRoute keeps the first template noted (webapi.RouteNoter).
func (w *statusWriter) NoteRoute(template string) {
	if w.route == "" {
		w.route = template
	}
}
