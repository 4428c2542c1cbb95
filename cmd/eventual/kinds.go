package main

// The step kinds a configuration file can name by "type". Each package
// registers its kinds in pipeline.DefaultKinds from init(); importing it
// here is what makes its kinds part of eventual. To add a kind, write a
// package that calls pipeline.RegisterKind and add it to this list.
import (
	_ "github.com/eventual-pp/eventual/steps"   // require, setvalue
	_ "github.com/eventual-pp/eventual/webhook" // webhook
)
