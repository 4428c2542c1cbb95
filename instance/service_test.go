package instance_test

import (
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/servicetest"
)

// TestRecordServiceContract runs the record-service suite on an instance
// over each store.
func TestRecordServiceContract(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			servicetest.Run(t, func(t *testing.T) (eventual.RecordService, *eventual.Schema) {
				schema := metadata.Builtin()
				return instance.New(kind.Open(t, schema), schema), schema
			})
		})
	}
}
