package instance

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// EnsureUser records a caller as a systemuser the first time it is seen:
// its id, its name (fullname), the id as its Entra object id, and for an
// application user its access mode Non-interactive. A user already
// recorded is left as it is (an administrator may have edited it). The
// users seen are remembered, so that a known caller costs a map look-up.
// Without a systemuser table (a schema without the system tables) it
// does nothing.
func (in *Instance) EnsureUser(ctx context.Context, c eventual.Caller) error {
	if _, ok := in.users.Load(c.UserID); ok || c.UserID == uuid.Nil {
		return nil
	}
	t := in.Schema.Table("systemuser")
	if t == nil {
		return nil
	}
	err := in.Store.Update(ctx, func(tx eventual.Tx) error {
		if _, err := tx.Get(ctx, t, c.UserID, []*eventual.Column{}); err == nil {
			return nil
		} else if !errors.Is(err, eventual.ErrNotFound) && eventual.ErrorKind(err) != eventual.KindNotFound {
			return err
		}
		name := c.Name
		if name == "" {
			name = c.UserID.String()
		}
		vals := eventual.Values{"fullname": name, "azureactivedirectoryobjectid": c.UserID, "isdisabled": false, "accessmode": int64(0)}
		if c.Application {
			vals["accessmode"] = int64(4)
		}
		rec, err := in.buildCreate(ctx, tx, &eventual.Entity{Table: t, ID: c.UserID, Values: vals}, nil)
		if err != nil {
			return err
		}
		return tx.Insert(ctx, rec)
	})
	var conflict *eventual.ConflictError
	if err != nil && !errors.As(err, &conflict) { // a conflict: another request recorded it first
		return fmt.Errorf("instance: record the user %s: %w", c.UserID, err)
	}
	in.users.Store(c.UserID, struct{}{})
	return nil
}
