package sqlstore

import (
	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// ReadMeta fills the instance identity of m (organization, business unit,
// user), reading each eventual_meta key with get, in that order; the first
// error stops it, with that field left as get returned it.
func ReadMeta(m *eventual.Meta, get func(key string) (uuid.UUID, error)) error {
	for _, f := range []struct {
		key string
		id  *uuid.UUID
	}{{"organizationid", &m.OrganizationID}, {"businessunitid", &m.BusinessUnitID}, {"userid", &m.UserID}} {
		id, err := get(f.key)
		*f.id = id
		if err != nil {
			return err
		}
	}
	return nil
}
