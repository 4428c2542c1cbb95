package eventual_test

import (
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
)

// TestKeySizeLimit: Dataverse refuses keys over 900 bytes of SQL index
// (define-alternate-keys-entity.md); a schema with one must not start,
// rather than fail with a server error on the first write.
func TestKeySizeLimit(t *testing.T) {
	table := func(lens ...int) []eventual.TableDef {
		d := eventual.TableDef{LogicalName: "new_thing", SchemaName: "new_Thing", EntitySetName: "new_things", PrimaryNameAttribute: "new_name",
			Columns: []eventual.ColumnDef{{LogicalName: "new_name", SchemaName: "new_Name", Type: eventual.TypeString, MaxLength: 100}}}
		var cols []string
		for i, n := range lens {
			name := "new_k" + string(rune('a'+i))
			d.Columns = append(d.Columns, eventual.ColumnDef{LogicalName: name, SchemaName: name, Type: eventual.TypeString, MaxLength: n})
			cols = append(cols, name)
		}
		d.Columns = append(d.Columns, eventual.ColumnDef{LogicalName: "new_n", SchemaName: "new_N", Type: eventual.TypeInteger})
		d.Keys = []eventual.KeyDef{{LogicalName: "new_key", Columns: append(cols, "new_n")}}
		return []eventual.TableDef{d}
	}
	for _, tc := range []struct {
		name string
		lens []int
		ok   bool
	}{
		{"one text column at the limit", []int{448}, true}, // 896 + 4 bytes
		{"one text column over the limit", []int{449}, false},
		{"two 4000-character columns", []int{4000, 4000}, false},
		{"two small columns", []int{100, 100}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := eventual.NewSchema(table(tc.lens...))
			if tc.ok {
				if err != nil {
					t.Fatalf("NewSchema: %v", err)
				}
				if n := s.Table("new_thing").Key("new_key").Size(); n > eventual.MaxKeyBytes {
					t.Errorf("accepted key of %d bytes", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "900 bytes") {
				t.Errorf("NewSchema error = %v, want the 900-byte key limit", err)
			}
		})
	}
}
