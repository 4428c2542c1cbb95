package instance

import (
	"context"
	"errors"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// ChangePage is a page of the changes of a table since a change token.
type ChangePage struct {
	// Changes are records created or updated (first, in primary key order)
	// and then records deleted.
	Changes []eventual.Change
	// More reports whether changes follow the page.
	More bool
	// Token is the change token of the page's snapshot, when asked for.
	Token string
}

// ChangeCursor is where a page of changes starts: after the record with
// ID among changed records, or among deletions when Deleted is set.
type ChangeCursor struct {
	Deleted bool
	After   uuid.UUID
}

// ErrBadToken is the error for a change token the store cannot read.
var ErrBadToken = eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest,
	"The $deltatoken is not valid. Follow the @odata.deltaLink exactly as returned, or start again with Prefer: odata.track-changes.")

// Changes returns up to limit changes of t after token since and up to
// token until, starting at the cursor: records created or updated (latest
// state, once each), then records deleted. An empty since reads from the
// beginning (every record, no deletions: the initial read of change
// tracking). An empty until reads up to the snapshot and returns its
// token, to hand out as the next delta link and to bound the read's later
// pages.
func (in *Instance) Changes(ctx context.Context, t *eventual.Table, columns []*eventual.Column, since, until string, cur ChangeCursor, limit int) (*ChangePage, error) {
	if !t.ChangeTracking {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "Change tracking is not enabled for the entity '%s'.", t.LogicalName)
	}
	page := &ChangePage{}
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		page.Changes, page.More, page.Token = nil, false, until
		if until == "" {
			var err error
			if page.Token, err = tx.ChangeToken(ctx); err != nil {
				return err
			}
		}
		if !cur.Deleted {
			chs, err := tx.Changes(ctx, eventual.ChangeQuery{Table: t, Columns: columns, Since: since, Until: page.Token, After: cur.After, Limit: limit + 1})
			if err != nil {
				return err
			}
			if len(chs) > limit {
				page.Changes, page.More = chs[:limit], true
				return nil
			}
			page.Changes = chs
			cur = ChangeCursor{Deleted: true}
		}
		if since == "" {
			return nil // an initial read has no deletions
		}
		left := limit - len(page.Changes)
		chs, err := tx.Changes(ctx, eventual.ChangeQuery{Table: t, Since: since, Until: page.Token, Deleted: true, After: cur.After, Limit: left + 1})
		if err != nil {
			return err
		}
		if len(chs) > left {
			chs, page.More = chs[:left], true
		}
		page.Changes = append(page.Changes, chs...)
		return nil
	})
	if errors.Is(err, eventual.ErrBadToken) {
		return nil, ErrBadToken
	}
	if err != nil {
		return nil, err
	}
	return page, nil
}

// ExpireChanges forgets the deletions recorded before the time, the end of
// change-tracking retention.
func (in *Instance) ExpireChanges(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := in.Store.Update(ctx, func(tx eventual.Tx) error {
		var err error
		n, err = tx.PurgeDeleted(ctx, before)
		return err
	})
	return n, err
}
