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
		vals := eventual.Values{"fullname": eventual.TruncateUTF16(name, 200), "azureactivedirectoryobjectid": c.UserID, "isdisabled": false, "accessmode": int64(0)}
		if c.Domain != "" {
			vals["domainname"] = eventual.TruncateUTF16(c.Domain, 1024)
		}
		if c.Application {
			vals["accessmode"] = int64(4)
			if c.ApplicationID != uuid.Nil {
				vals["applicationid"] = c.ApplicationID
			}
		}
		// Users are recorded by the instance: SYSTEM creates them.
		sys := eventual.WithCaller(ctx, eventual.Caller{UserID: in.Meta.UserID})
		rec, err := in.buildCreate(sys, tx, &eventual.Entity{Table: t, ID: c.UserID, Values: vals}, nil)
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

// actor is the user a write is stamped with: the caller, or without one
// (a message run by the instance itself, a library use without
// authentication) the instance's own user.
func (in *Instance) actor(ctx context.Context) uuid.UUID {
	if c, ok := eventual.CallerFrom(ctx); ok && c.UserID != uuid.Nil {
		return c.UserID
	}
	return in.Meta.UserID
}

// stampCreate sets the user columns of a record to create: createdby and
// modifiedby are the actor, and so is ownerid unless the write assigned
// an owner. A table without them (a schema without systemuser) is left
// alone.
func (in *Instance) stampCreate(ctx context.Context, t *eventual.Table, vals eventual.Values) {
	users := in.Schema.Table(eventual.UserTable)
	if users == nil || t.Column(eventual.ColumnCreatedBy) == nil {
		return
	}
	id := in.actor(ctx)
	if id == uuid.Nil {
		return
	}
	var me any = eventual.Ref(users, id) // boxed once for the three
	vals[eventual.ColumnCreatedBy], vals[eventual.ColumnModifiedBy] = me, me
	if c := t.Column(eventual.ColumnOwner); c != nil && vals[eventual.ColumnOwner] == nil {
		vals[eventual.ColumnOwner] = me
	}
}

// stampUpdate sets modifiedby of a record to update to the actor.
func (in *Instance) stampUpdate(ctx context.Context, t *eventual.Table, vals eventual.Values) {
	users := in.Schema.Table(eventual.UserTable)
	if users == nil || t.Column(eventual.ColumnModifiedBy) == nil {
		return
	}
	if id := in.actor(ctx); id != uuid.Nil {
		vals[eventual.ColumnModifiedBy] = eventual.Ref(users, id)
	}
}

// errDeleteUser is the answer to deleting a systemuser, which Dataverse
// does not offer either: every record's createdby, modifiedby and ownerid
// would lose its user. A user leaves by being disabled.
func errDeleteUser() error {
	return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation,
		"The 'Delete' method does not support entities of type 'systemuser': disable the user instead (isdisabled true).")
}
