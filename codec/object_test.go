package codec

import "testing"

func TestObject(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{nil, `x{}`},
		{[]string{"a"}, `x{"a":1}`},
		{[]string{"a", "b\"c"}, `x{"a":1,"b\"c":1}`},
	} {
		o := NewObject([]byte("x"))
		for _, k := range tc.keys {
			o.Key(k)
			o.B = append(o.B, '1')
		}
		if got := string(o.Close()); got != tc.want {
			t.Errorf("keys %q: %s, want %s", tc.keys, got, tc.want)
		}
	}
}
