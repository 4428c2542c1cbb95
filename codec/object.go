package codec

// Object appends the members of a JSON object to B: Key writes the comma
// before every member but the first, then the member's name.
type Object struct {
	// B is the output so far; values are appended to it directly.
	B       []byte
	members bool
}

// NewObject starts an object at the end of b.
func NewObject(b []byte) Object { return Object{B: append(b, '{')} }

// Key appends a member's name, and the comma before it if needed.
func (o *Object) Key(name string) {
	if o.members {
		o.B = append(o.B, ',')
	}
	o.members = true
	o.B = AppendString(o.B, name)
	o.B = append(o.B, ':')
}

// Close ends the object and returns the output.
func (o *Object) Close() []byte { return append(o.B, '}') }
