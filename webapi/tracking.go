package webapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file serves change tracking: GET <set> with Prefer:
// odata.track-changes returns every record and, on its last page, an
// @odata.deltaLink; following that link returns the records created or
// updated since (latest state, once each) and the deleted ones as
// $deletedEntity entries, then a new delta link.
//
// A delta token is "<store position>!<MM/dd/yyyy HH:mm:ss>", the shape
// Dataverse uses ("919042!08/22/2017 08:10:44"). The time lets tokens
// expire after the retention period, as Dataverse's do.

// DefaultChangeRetention is how long delta tokens stay valid (Dataverse's
// default of 7 days).
const DefaultChangeRetention = 7 * 24 * time.Hour

const tokenTimeLayout = "01/02/2006 15:04:05"

func (s *Server) retention() time.Duration {
	if s.ChangeRetention > 0 {
		return s.ChangeRetention
	}
	return DefaultChangeRetention
}

// isTracking reports whether a request reads with change tracking: the
// preference, a delta token, or a skip token of a tracked read.
func (q *request) isTracking() bool {
	return q.prefs.trackChanges || q.opts.HasDeltaToken ||
		(q.opts.HasSkipToken && strings.Contains(q.opts.SkipToken, `istracking="True"`))
}

func (q *request) deltaToken(storeToken string, at time.Time) string {
	return storeToken + "!" + at.UTC().Format(tokenTimeLayout)
}

// parseDeltaToken checks a delta token and returns the store's position.
func (q *request) parseDeltaToken(tok string) (string, error) {
	i := strings.LastIndexByte(tok, '!')
	if i < 0 {
		return "", eventual.ErrTokenNotValid
	}
	at, err := time.Parse(tokenTimeLayout, tok[i+1:])
	if err != nil {
		return "", eventual.ErrTokenNotValid
	}
	if q.s.now().Sub(at) > q.s.retention() {
		return "", eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest,
			"The $deltatoken has expired: changes are kept for %s. Start again with Prefer: odata.track-changes to read every record.", q.s.retention())
	}
	return tok[:i], nil
}

// checkTrackingOptions rejects the query options Dataverse does not
// support with change tracking.
func (q *request) checkTrackingOptions(t *eventual.Table) error {
	if !t.ChangeTracking {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "Change tracking is not enabled for the entity '%s'.", t.LogicalName)
	}
	unsupported := func(name string) error {
		return errBadRequest(`The "%s" query parameter isn't supported when Change Tracking is enabled.`, name)
	}
	switch {
	case q.opts.Filter != nil:
		return unsupported("$filter")
	case q.opts.OrderBy != nil:
		return unsupported("$orderby")
	case len(q.opts.Expand) > 0:
		return unsupported("$expand")
	case q.opts.Top != nil:
		return unsupported("$top")
	case q.opts.Count:
		return unsupported("$count")
	}
	return nil
}

// deltaLink is the URL that continues change tracking from a token.
func (q *request) deltaLink(t *eventual.Table, token string) string {
	link := q.base + t.EntitySetName + "?"
	if len(q.opts.Select) > 0 {
		link += "$select=" + strings.Join(q.opts.Select, ",") + "&"
	}
	return link + "$deltatoken=" + lowerEscape(token)
}

// tracked serves a change-tracked read of an entity set, page by page:
// the initial read (every record) or a delta since a token. Both read
// through the store's change feed, bounded by the token of their first
// page, so their pages end even while writers go on; what changed after
// that token is in the next delta.
func (q *request) tracked(t *eventual.Table) error {
	if err := q.checkTrackingOptions(t); err != nil {
		return err
	}
	cols, err := bindSelect(t, q.opts.Select)
	if err != nil {
		return err
	}
	pageSize := MaxPageSize
	if q.prefs.maxPageSize > 0 {
		pageSize = q.prefs.maxPageSize
	}
	w, err := q.changeWindow(t)
	if err != nil {
		return err
	}
	page, err := q.ops.Changes(q.ctx, t, cols, w.since, w.until, w.start, pageSize)
	if err != nil {
		return err
	}
	token := w.cur.token
	if !w.cur.tracking {
		token = q.deltaToken(page.Token, q.s.now())
	}
	return q.writeChanges(t, cols, w, page, token)
}

// changeWindow is what a tracked read reads: changes after since (none:
// every record) up to until (none: a new snapshot), from start.
type changeWindow struct {
	cur          cursor // the skip token's, on a later page
	since, until string
	start        eventual.ChangeCursor
	delta        bool // a delta read, answered with a /$delta context
}

// changeWindow reads the window from the $deltatoken and the $skiptoken.
func (q *request) changeWindow(t *eventual.Table) (changeWindow, error) {
	var w changeWindow
	var err error
	if q.opts.HasSkipToken {
		if w.cur, err = decodeSkipToken(t, nil, q.opts.SkipToken); err != nil || !w.cur.tracking {
			return w, errSkipToken()
		}
	}
	w.delta = q.opts.HasDeltaToken || w.cur.since != ""
	w.since = w.cur.since
	if q.opts.HasDeltaToken && w.since == "" {
		if w.since, err = q.parseDeltaToken(q.opts.DeltaToken); err != nil {
			return w, err
		}
	}
	if w.cur.tracking {
		if w.until, err = q.parseDeltaToken(w.cur.token); err != nil {
			return w, err
		}
	}
	w.start = eventual.ChangeCursor{Deleted: w.cur.deleted}
	if len(w.cur.after) > 0 {
		w.start.After = w.cur.after[len(w.cur.after)-1].(uuid.UUID)
	}
	return w, nil
}

// writeChanges renders a page of changes: the records, then the deleted
// entities, and a next link or, on the last page, the delta link.
func (q *request) writeChanges(t *eventual.Table, cols []*eventual.Column, w changeWindow, page *eventual.ChangePage, token string) error {
	var recs []*eventual.Record
	for _, c := range page.Changes {
		if c.Record != nil {
			recs = append(recs, c.Record)
		}
	}
	rd, err := q.newRenderer(q.ctx, recs, true)
	if err != nil {
		return err
	}
	context := q.base + "$metadata#" + t.EntitySetName + contextSelect(q.opts.Select, nil)
	if w.delta {
		context += "/$delta"
	}
	b := []byte(`{"@odata.context":`)
	b = appendString(b, context)
	if !page.More {
		b = append(b, `,"@odata.deltaLink":`...)
		b = appendString(b, q.deltaLink(t, token))
	}
	b = append(b, `,"value":[`...)
	for i, c := range page.Changes {
		if i > 0 {
			b = append(b, ',')
		}
		if c.Deleted {
			b = append(b, `{"@odata.context":`...)
			b = appendString(b, q.base+"$metadata#"+t.EntitySetName+"/$deletedEntity")
			b = append(b, `,"id":`...)
			b = appendString(b, c.ID.String())
			b = append(b, `,"reason":"deleted"}`...)
			continue
		}
		b = rd.appendRecord(b, c.Record, cols, nil, true, "")
	}
	b = append(b, ']')
	if page.More {
		last := page.Changes[len(page.Changes)-1]
		next := cursor{page: w.cur.page + 1, after: []any{last.ID}, first: page.Changes[0].ID,
			tracking: true, token: token, since: w.since, deleted: last.Deleted}
		b = append(b, `,"@odata.nextLink":`...)
		b = appendString(b, q.nextLink(encodeSkipToken(t, nil, next)))
	}
	b = append(b, '}')
	if q.prefs.trackChanges {
		q.applied("odata.track-changes")
	}
	q.appliedPaging()
	return q.writeJSON(http.StatusOK, b)
}

// countChanges serves <set>/$count?$deltatoken=...: the number of changes
// since the token (at most 5000).
func (q *request) countChanges(t *eventual.Table) error {
	since, err := q.parseDeltaToken(q.opts.DeltaToken)
	if err != nil {
		return err
	}
	page, err := q.ops.Changes(q.ctx, t, []*eventual.Column{}, since, "", eventual.ChangeCursor{}, eventual.MaxCount)
	if err != nil {
		return err
	}
	return q.writeText(strconv.Itoa(len(page.Changes)))
}
