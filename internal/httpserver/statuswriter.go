package httpserver

import "net/http"

// StatusWriter is a ResponseWriter that remembers the status its handler
// answered with, for the middleware that logs or counts requests. Make it
// with Status set to 200, the status of a handler that writes no header.
type StatusWriter struct {
	http.ResponseWriter
	Status      int
	wroteHeader bool
}

// WriteHeader keeps the first status written.
func (w *StatusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.Status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the body (and, first, a 200 header if none was written).
func (w *StatusWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines).
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes on.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
