package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/storetest"
)

func TestContract(t *testing.T) {
	testpg.Require(t)
	dsns := map[string]string{}
	storetest.Run(t, func(tb testing.TB, name string, schema *eventual.Schema) (eventual.Store, error) {
		dsn, ok := dsns[name]
		if !ok {
			dsn = testpg.Schema(t, strings.ReplaceAll(name, "-", "_"))
			dsns[name] = dsn
		}
		return postgres.Open(context.Background(), dsn, schema, postgres.Options{})
	})
}
