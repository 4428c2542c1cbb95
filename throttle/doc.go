// Package throttle enforces Dataverse's service-protection limits on an
// HTTP handler, so that integration code meets in test the 429s it meets
// in production (api-limits.md, "Service protection API limits").
//
// The limits are evaluated per user (Options.Identity) and per process,
// as Dataverse evaluates them per web server, over a sliding window of
// 300 seconds:
//
//   - requests: 6,000 in the window; the next request is refused with
//     0x80072322 until the oldest counted one leaves the window;
//   - combined execution time: 1,200 s in the window, measured as each
//     request's time in the handler once it has ended; once reached, the
//     next requests are refused with 0x80072321 until enough of it leaves
//     the window (the request that passes the limit still runs: "the
//     limits take effect only after being exceeded");
//   - concurrent requests: 52 in flight; the next is refused at once with
//     0x80072326.
//
// A refused request is answered 429 with Dataverse's error body and a
// Retry-After in whole seconds, rounded up, after which the request
// (alone) succeeds; it is not counted, so waiting that long is enough.
// For the concurrency limit no wait is known: Retry-After is 1 second.
// Every response carries x-ms-ratelimit-burst-remaining-xrm-requests (the
// requests left in the window, an integer such as 5999) and
// x-ms-ratelimit-time-remaining-xrm-requests (the execution time left,
// in seconds as Dataverse writes it: "1,199.46"), and x-ms-dop-hint. A
// $batch is one request against the request limit, and its whole time
// counts against the execution time ("A $batch counts as one request
// against the 6,000 limit, but its execution time accumulates").
//
// Not emulated: Dataverse's lengthening of Retry-After under continued
// abuse, and its per-server affinity (a process is one web server).
package throttle
