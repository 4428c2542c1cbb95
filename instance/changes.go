package instance

import (
	"context"
	"errors"
	"time"

	"github.com/eventual-pp/eventual"
)

// Changes returns up to limit changes of t after token since and up to
// token until, starting at the cursor: records created or updated (latest
// state, once each), then records deleted. An empty since reads from the
// beginning (every record, no deletions: the initial read of change
// tracking). An empty until reads up to the snapshot and returns its
// token, to hand out as the next delta link and to bound the read's later
// pages.
func (in *Instance) Changes(ctx context.Context, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, error) {
	var page *eventual.ChangePage
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		page, err = changes(ctx, tx, t, columns, since, until, cur, limit)
		return err
	})
	return page, err
}

// ExpireChanges forgets the deletions recorded before the time, the end of
// change-tracking retention.
func (in *Instance) ExpireChanges(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		var err error
		n, err = tx.PurgeDeleted(ctx, before)
		return err
	})
	return n, err
}

// changes reads a page of changes in a transaction (see Instance.Changes).
// A token the store cannot read is eventual.ErrTokenNotValid.
func changes(ctx context.Context, tx eventual.ReadTx, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, error) {
	if !t.ChangeTracking {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "Change tracking is not enabled for the entity '%s'.", t.LogicalName)
	}
	page, err := changePage(ctx, tx, t, columns, since, until, cur, limit)
	if errors.Is(err, eventual.ErrBadToken) {
		return nil, eventual.ErrTokenNotValid
	}
	return page, err
}

// changePage reads the changed records of the page, then its deletions.
func changePage(ctx context.Context, tx eventual.ReadTx, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, error) {
	page := &eventual.ChangePage{Token: until}
	if until == "" {
		var err error
		if page.Token, err = tx.ChangeToken(ctx); err != nil {
			return nil, err
		}
	}
	if !cur.Deleted {
		chs, err := tx.Changes(ctx, eventual.ChangeQuery{Table: t, Columns: columns, Since: since, Until: page.Token, After: cur.After, Limit: limit + 1})
		if err != nil {
			return nil, err
		}
		if len(chs) > limit {
			page.Changes, page.More = chs[:limit], true
			return page, nil
		}
		page.Changes = chs
		cur = eventual.ChangeCursor{Deleted: true}
	}
	if since == "" {
		return page, nil // an initial read has no deletions
	}
	left := limit - len(page.Changes)
	chs, err := tx.Changes(ctx, eventual.ChangeQuery{Table: t, Since: since, Until: page.Token, Deleted: true, After: cur.After, Limit: left + 1})
	if err != nil {
		return nil, err
	}
	if len(chs) > left {
		chs, page.More = chs[:left], true
	}
	page.Changes = append(page.Changes, chs...)
	return page, nil
}
