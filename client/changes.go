package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// This file reads change tracking over HTTP. The Web API has two kinds of
// token: the $deltatoken of the @odata.deltaLink on the last page of a
// read, and the opaque @odata.nextLink of each earlier page. Changes maps
// them onto eventual.RecordService's (since, until, cursor):
//
//   - since is a $deltatoken ("" for the initial read);
//   - a page with More set has a continuation token as Token: the next
//     link, the since it belongs to and the last change of the page, made
//     by the client (see contPrefix). Passing it as until with the cursor
//     of that last change GETs the next link;
//   - the last page's Token is the delta link's $deltatoken, the since of
//     the next read.
//
// All are plain strings, so a sync can persist them and resume mid-read
// after a restart.

// contPrefix starts a continuation token: "ecc1." then the unpadded
// base64url of contToken's JSON.
const contPrefix = "ecc1."

// contToken is a continuation token: where the next page of a read is and
// which change it follows.
type contToken struct {
	// Next is the @odata.nextLink, relative to the Web API root when it
	// is under it (so the token survives a new base URL of the same
	// endpoint).
	Next string `json:"n"`
	// Since is the $deltatoken the read started from.
	Since string `json:"s,omitempty"`
	// After and Deleted are the last change of the page.
	After   uuid.UUID `json:"a"`
	Deleted bool      `json:"d,omitempty"`
}

func (c contToken) encode() string {
	b, _ := json.Marshal(c) // a struct of strings, a UUID and a bool
	return contPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeContToken(s string) (contToken, error) {
	var c contToken
	rest, ok := strings.CutPrefix(s, contPrefix)
	if !ok {
		return c, badToken("the until token %.40q is not a continuation token this client made", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Next == "" {
		return c, badToken("the continuation token is damaged")
	}
	return c, nil
}

// badToken is a token the client itself finds unusable: an
// eventual.ErrTokenNotValid, so errors.Is(err, eventual.ErrBadToken)
// holds.
func badToken(format string, args ...any) error {
	return &eventual.Error{Kind: eventual.KindInvalid, Code: eventual.CodeBadRequest,
		Message: "client: " + fmt.Sprintf(format, args...), Err: eventual.ErrTokenNotValid}
}

// tokenError is a 400 answered to a request that carried a change token
// (a $deltatoken, or a next link of a tracked read): the token is not
// valid, has expired (Dataverse keeps changes ExpireChangeTrackingInDays,
// 7 by default), or its link was altered. The Web API gives these no
// distinct code, so any 400 to such a request is one. It unwraps to the
// server's *Error (and so its *eventual.Error, first) and to
// eventual.ErrTokenNotValid.
type tokenError struct{ err error }

func (e *tokenError) Error() string   { return e.err.Error() }
func (e *tokenError) Unwrap() []error { return []error{e.err, eventual.ErrTokenNotValid} }

// asTokenError turns a 400 into a tokenError; other errors pass as they
// are.
func asTokenError(err error) error {
	if e, ok := errors.AsType[*Error](err); ok && e.StatusCode == http.StatusBadRequest {
		return &tokenError{err: err}
	}
	return err
}

// Changes returns up to limit changes of t after change token since and up
// to token until, starting at the cursor, as eventual.RecordService's
// Changes: records created or updated (latest state, once each), then
// records deleted. An empty since is the initial read (every record, no
// deletions).
//
// Over HTTP until is either empty, to start a read (cur must then be
// zero), or the Token of a page with More set, with cur the last change of
// that page: the token carries the page's next link and the client checks
// both since and cur against it. The last page's Token is the new
// $deltatoken, the since of the next read. limit is sent as
// odata.maxpagesize on every page (0: the server's 5000); keep it the
// same across the pages of a read, as Dataverse wants.
//
// A token the client or the server cannot read, or one that has expired,
// is an error for which errors.Is(err, eventual.ErrBadToken) holds: start
// again with an initial read.
func (r *Records) Changes(ctx context.Context, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, error) {
	page, _, err := r.changes(ctx, t, columns, since, until, cur, limit)
	return page, err
}

// changes is Changes that also returns the delta link of a last page.
func (r *Records) changes(ctx context.Context, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, string, error) {
	path, err := r.changesPath(t, columns, since, until, cur)
	if err != nil {
		return nil, "", err
	}
	prefs := []string{"odata.track-changes"}
	if limit > 0 {
		prefs = append(prefs, "odata.maxpagesize="+strconv.Itoa(limit))
	}
	h := readHeader(prefs...)
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Header: h})
	if err != nil {
		if since != "" || until != "" {
			err = asTokenError(err)
		}
		return nil, "", err
	}
	page, next, delta, err := decodeChanges(t, resp.Body)
	if err != nil {
		return nil, "", err
	}
	if page.More {
		c := contToken{Next: r.relative(next), Since: since}
		if n := len(page.Changes); n > 0 {
			c.After, c.Deleted = page.Changes[n-1].ID, page.Changes[n-1].Deleted
		}
		page.Token = c.encode()
		return page, "", nil
	}
	if page.Token, err = deltaToken(delta); err != nil {
		return nil, "", err
	}
	return page, delta, nil
}

// changesPath is the URL of a page: the next link a continuation token
// carries, or the entity set with $select and the $deltatoken.
func (r *Records) changesPath(t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor) (string, error) {
	if until != "" {
		c, err := decodeContToken(until)
		if err != nil {
			return "", err
		}
		if c.Since != since || c.After != cur.After || c.Deleted != cur.Deleted {
			return "", badToken("the cursor or the since token is not the one the continuation token follows")
		}
		return c.Next, nil
	}
	if cur != (eventual.ChangeCursor{}) {
		return "", badToken("a cursor continues a read: pass the Token of the page it ends as until")
	}
	opts := url.Values{}
	if columns != nil {
		sel := selectList(columns)
		if sel == "" {
			sel = t.PrimaryIDAttribute
		}
		opts.Set("$select", sel)
	}
	if since != "" {
		opts.Set("$deltatoken", since)
	}
	path := t.EntitySetName
	if enc := Encode(opts); enc != "" {
		path += "?" + enc
	}
	return path, nil
}

// relative returns a link under the Web API root relative to it, and any
// other link as it is.
func (r *Records) relative(link string) string {
	root := r.c.root.String() + "/"
	if rest, ok := strings.CutPrefix(link, root); ok {
		return rest
	}
	return link
}

// deltaToken reads the $deltatoken of a delta link.
func deltaToken(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("client: delta link %q: %w", link, err)
	}
	tok := u.Query().Get("$deltatoken")
	if tok == "" {
		return "", fmt.Errorf("client: delta link %q has no $deltatoken", link)
	}
	return tok, nil
}

// decodeChanges decodes a page of a tracked read: records in their usual
// form, deletions as $deletedEntity entries, and the next link or the
// delta link.
func decodeChanges(t *eventual.Table, body []byte) (page *eventual.ChangePage, next, delta string, err error) {
	v, err := codec.DecodeResponse(body)
	if err != nil {
		return nil, "", "", fmt.Errorf("client: changes of %s: %w", t.EntitySetName, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", "", fmt.Errorf("client: changes of %s: not a JSON object", t.EntitySetName)
	}
	next, _ = m["@odata.nextLink"].(string)
	delta, _ = m["@odata.deltaLink"].(string)
	if next == "" && delta == "" {
		return nil, "", "", fmt.Errorf("client: changes of %s: the page has neither a next link nor a delta link", t.EntitySetName)
	}
	items, _ := m["value"].([]any)
	page = &eventual.ChangePage{More: next != "", Changes: make([]eventual.Change, 0, len(items))}
	for _, it := range items {
		ch, err := decodeChange(t, it)
		if err != nil {
			return nil, "", "", err
		}
		page.Changes = append(page.Changes, ch)
	}
	return page, next, delta, nil
}

// decodeChange decodes one entry of a tracked read.
func decodeChange(t *eventual.Table, it any) (eventual.Change, error) {
	obj, ok := it.(map[string]any)
	if !ok {
		return eventual.Change{}, fmt.Errorf("client: changes of %s: an entry is not an object", t.EntitySetName)
	}
	if ctx, _ := obj["@odata.context"].(string); strings.HasSuffix(ctx, "/$deletedEntity") {
		s, _ := obj["id"].(string)
		id, err := uuid.Parse(s)
		if err != nil {
			return eventual.Change{}, fmt.Errorf("client: changes of %s: deleted entity id %q: %w", t.EntitySetName, s, err)
		}
		return eventual.Change{ID: id, Deleted: true}, nil
	}
	rec, err := codec.RecordFromJSON(t, obj)
	if err != nil {
		return eventual.Change{}, err
	}
	return eventual.Change{ID: rec.ID, Record: rec}, nil
}

// CountChanges returns the number of changes of t since a $deltatoken
// (<set>/$count?$deltatoken=), at most eventual.MaxCount. A token the
// server cannot read is an error for which errors.Is(err,
// eventual.ErrBadToken) holds.
func (r *Records) CountChanges(ctx context.Context, t *eventual.Table, token string) (int64, error) {
	if token == "" {
		return 0, badToken("counting changes needs a $deltatoken")
	}
	path := t.EntitySetName + "/$count?$deltatoken=" + Escape(token)
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return 0, asTokenError(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(resp.Body)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("client: count of changes of %s: %q is not a number", t.EntitySetName, resp.Body)
	}
	return n, nil
}

// Tracker follows the change tracking of one table: each call of Changes
// reads one delta, following next links, and on its end Token is the
// token of the next delta. Persist Token between runs: after a complete
// read it is the new $deltatoken, before that the token the read started
// from, so a restart reads again (at least once) what was not finished.
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	r    *Records
	t    *eventual.Table
	cols []*eventual.Column

	// PageSize is the odata.maxpagesize of each page; 0 for the
	// server's default (5000).
	PageSize int

	since     string // the token the current read started from
	until     string // continuation of the current read; "" before its first page
	cur       eventual.ChangeCursor
	pending   []eventual.Change // the rest of the page read last
	last      bool              // the page read last was the read's last
	next      string            // its token, the since of the next read
	link      string            // its delta link
	deltaLink string
}

// Track returns a tracker of t's changes with the columns (nil for all)
// since a $deltatoken; "" starts with the initial read of every record.
func (r *Records) Track(t *eventual.Table, columns []*eventual.Column, token string) *Tracker {
	return &Tracker{r: r, t: t, cols: columns, since: token}
}

// Changes returns an iterator over one read of changes: records created
// or updated, then deletions (Change.Deleted, with ID only). It fetches
// pages as the loop consumes them. An error is yielded once and ends the
// loop; the next call tries the failed page again (an error for which
// errors.Is(err, eventual.ErrBadToken) holds will not heal: start over
// with Track and an empty token). Breaking the loop early leaves the rest
// for the next call, which continues after the last change yielded. When a
// read ends, Token and DeltaLink move on, and the next call reads the
// next delta.
func (tr *Tracker) Changes(ctx context.Context) iter.Seq2[eventual.Change, error] {
	return func(yield func(eventual.Change, error) bool) {
		for {
			for len(tr.pending) > 0 {
				ch := tr.pending[0]
				tr.pending = tr.pending[1:]
				if !yield(ch, nil) {
					return
				}
			}
			if tr.last {
				tr.since, tr.deltaLink = tr.next, tr.link
				tr.until, tr.cur, tr.last, tr.next, tr.link = "", eventual.ChangeCursor{}, false, "", ""
				return
			}
			if err := tr.fetch(ctx); err != nil {
				yield(eventual.Change{}, err)
				return
			}
		}
	}
}

// fetch reads the next page of the current read.
func (tr *Tracker) fetch(ctx context.Context) error {
	page, link, err := tr.r.changes(ctx, tr.t, tr.cols, tr.since, tr.until, tr.cur, tr.PageSize)
	if err != nil {
		return err
	}
	tr.pending = page.Changes
	if !page.More {
		tr.last, tr.next, tr.link = true, page.Token, link
		return nil
	}
	tr.until, tr.cur = page.Token, eventual.ChangeCursor{}
	if n := len(page.Changes); n > 0 {
		tr.cur = eventual.ChangeCursor{Deleted: page.Changes[n-1].Deleted, After: page.Changes[n-1].ID}
	}
	return nil
}

// Token returns the $deltatoken to persist: the one the last complete read
// ended with, or the one the tracker started from ("" for the initial
// read) until a read completes.
func (tr *Tracker) Token() string { return tr.since }

// DeltaLink returns the @odata.deltaLink of the last complete read, as
// the server sent it; "" until a read completes.
func (tr *Tracker) DeltaLink() string { return tr.deltaLink }
