package client

import (
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/servicetest"
)

// TestRecordServiceContract runs the record-service suite on the client
// over eventual's Web API, over each store: remote and local instances
// answer alike.
func TestRecordServiceContract(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			servicetest.Run(t, func(t *testing.T) (eventual.RecordService, *eventual.Schema) {
				r, _, schema := liveRecords(t, kind)
				return r, schema
			})
		})
	}
}
