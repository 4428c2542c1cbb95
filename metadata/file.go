package metadata

import (
	"fmt"

	"github.com/eventual-pp/eventual"
)

// SchemaConfig is the schema section of a configuration file. Tables named
// like built-in ones extend them (new columns and keys); other tables are
// added. Builtin: false serves the configured tables alone.
//
//	schema:
//	  tables:
//	    - logicalName: new_project
//	      primaryName: new_name
//	      columns:
//	        - {name: new_name, type: string, maxLength: 100}
//	        - {name: new_code, type: string}
//	        - {name: new_account, type: lookup, targets: [account], relationships: [new_account_new_project]}
//	      keys:
//	        - {name: new_code_key, columns: [new_code]}
type SchemaConfig struct {
	// Builtin includes the built-in tables; it defaults to true.
	Builtin *bool `yaml:"builtin"`
	// Tables are the tables to add or extend.
	Tables []TableConfig `yaml:"tables"`
}

// TableConfig declares a table.
type TableConfig struct {
	LogicalName           string         `yaml:"logicalName"`
	SchemaName            string         `yaml:"schemaName"`
	EntitySetName         string         `yaml:"entitySetName"`
	DisplayName           string         `yaml:"displayName"`
	DisplayCollectionName string         `yaml:"displayCollectionName"`
	PrimaryName           string         `yaml:"primaryName"`
	ObjectTypeCode        int            `yaml:"objectTypeCode"`
	ChangeTracking        *bool          `yaml:"changeTracking"`
	Columns               []ColumnConfig `yaml:"columns"`
	Keys                  []KeyConfig    `yaml:"keys"`
	// Intersect makes the table the intersect of a many-to-many
	// relationship of that name between the tables its two lookups
	// reference (see eventual.TableDef.Intersect).
	Intersect string `yaml:"intersect,omitempty"`
}

// ColumnConfig declares a column.
type ColumnConfig struct {
	Name          string         `yaml:"name"`
	SchemaName    string         `yaml:"schemaName"`
	DisplayName   string         `yaml:"displayName"`
	Type          string         `yaml:"type"`
	MaxLength     int            `yaml:"maxLength"`
	Precision     *int           `yaml:"precision"`
	MinValue      *float64       `yaml:"minValue"`
	MaxValue      *float64       `yaml:"maxValue"`
	Format        string         `yaml:"format"`
	Required      bool           `yaml:"required"`
	Targets       []string       `yaml:"targets"`
	Relationships []string       `yaml:"relationships"`
	Options       []OptionConfig `yaml:"options"`
}

// OptionConfig declares a choice option.
type OptionConfig struct {
	Value int64  `yaml:"value"`
	Label string `yaml:"label"`
}

// KeyConfig declares an alternate key.
type KeyConfig struct {
	Name    string   `yaml:"name"`
	Columns []string `yaml:"columns"`
}

// Definitions merges the configuration with the built-in tables and returns
// the table definitions to build a schema from.
func (c SchemaConfig) Definitions() ([]eventual.TableDef, error) {
	var defs []eventual.TableDef
	if c.Builtin == nil || *c.Builtin {
		defs = BuiltinTables()
	}
	index := map[string]int{}
	for i, d := range defs {
		index[d.LogicalName] = i
	}
	for _, tc := range c.Tables {
		cols := make([]eventual.ColumnDef, 0, len(tc.Columns))
		for _, cc := range tc.Columns {
			cols = append(cols, cc.definition())
		}
		keys := make([]eventual.KeyDef, 0, len(tc.Keys))
		for _, kc := range tc.Keys {
			keys = append(keys, eventual.KeyDef{LogicalName: kc.Name, Columns: kc.Columns})
		}
		if i, ok := index[tc.LogicalName]; ok {
			// Extend a built-in table: only columns and keys may be added.
			if tc.EntitySetName != "" && tc.EntitySetName != defs[i].EntitySetName {
				return nil, fmt.Errorf("schema: table %q is built in; its entity set name cannot change", tc.LogicalName)
			}
			if tc.PrimaryName != "" && tc.PrimaryName != defs[i].PrimaryNameAttribute {
				return nil, fmt.Errorf("schema: table %q is built in; its primary name cannot change", tc.LogicalName)
			}
			defs[i].Columns = append(defs[i].Columns, cols...)
			defs[i].Keys = append(defs[i].Keys, keys...)
			if tc.ChangeTracking != nil {
				defs[i].ChangeTracking = *tc.ChangeTracking
			}
			continue
		}
		ct := true
		if tc.ChangeTracking != nil {
			ct = *tc.ChangeTracking
		}
		if isSystemTable(tc.LogicalName) {
			return nil, fmt.Errorf("schema: table %q is a system table and cannot be redefined", tc.LogicalName)
		}
		index[tc.LogicalName] = len(defs)
		defs = append(defs, eventual.TableDef{
			LogicalName:           tc.LogicalName,
			SchemaName:            tc.SchemaName,
			EntitySetName:         tc.EntitySetName,
			DisplayName:           tc.DisplayName,
			DisplayCollectionName: tc.DisplayCollectionName,
			PrimaryNameAttribute:  tc.PrimaryName,
			ObjectTypeCode:        tc.ObjectTypeCode,
			IsCustom:              true,
			ChangeTracking:        ct,
			Columns:               cols,
			Keys:                  keys,
			Intersect:             tc.Intersect,
		})
	}
	return append(defs, SystemTables()...), nil
}

func isSystemTable(name string) bool {
	for _, t := range SystemTables() {
		if t.LogicalName == name {
			return true
		}
	}
	return false
}

// Bounds of a schema configuration, past any real one, so that a huge file
// is refused rather than built (Dataverse caps a table at 1,024 columns).
const (
	MaxTables  = 2000
	MaxColumns = 1024
)

// Schema builds the schema the configuration describes.
func (c SchemaConfig) Schema() (*eventual.Schema, error) {
	if len(c.Tables) > MaxTables {
		return nil, fmt.Errorf("schema: %d tables; at most %d may be configured", len(c.Tables), MaxTables)
	}
	for _, t := range c.Tables {
		if len(t.Columns) > MaxColumns {
			return nil, fmt.Errorf("schema: table %q has %d columns; at most %d may be configured", t.LogicalName, len(t.Columns), MaxColumns)
		}
	}
	defs, err := c.Definitions()
	if err != nil {
		return nil, err
	}
	s, err := eventual.NewSchema(defs)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return s, nil
}

func (cc ColumnConfig) definition() eventual.ColumnDef {
	d := eventual.ColumnDef{
		LogicalName:   cc.Name,
		SchemaName:    cc.SchemaName,
		DisplayName:   cc.DisplayName,
		Type:          eventual.ColumnType(cc.Type),
		MaxLength:     cc.MaxLength,
		Precision:     cc.Precision,
		MinValue:      cc.MinValue,
		MaxValue:      cc.MaxValue,
		Format:        eventual.DateTimeFormat(cc.Format),
		Required:      cc.Required,
		Targets:       cc.Targets,
		Relationships: cc.Relationships,
	}
	for _, o := range cc.Options {
		d.Options = append(d.Options, eventual.Option{Value: o.Value, Label: o.Label})
	}
	return d
}
