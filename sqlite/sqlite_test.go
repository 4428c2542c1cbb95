package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/eventual-pp/eventual/storetest"
)

func TestContract(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(tb testing.TB, name string, schema *eventual.Schema) (eventual.Store, error) {
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, name+".db"), schema, sqlite.Options{})
		if err != nil {
			return nil, err
		}
		return db, nil
	})
}
