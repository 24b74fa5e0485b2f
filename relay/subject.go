package relay

import (
	"fmt"
	"strings"
)

// validToken reports whether s can be one subject token: a source name, a
// stream prefix part.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkNames refuses a source or prefix that a subject cannot carry.
func checkNames(source, prefix string) error {
	if !validToken(source) {
		return fmt.Errorf("relay: source %q: want letters, digits, '-' or '_' (it is a subject token)", source)
	}
	for _, p := range strings.Split(prefix, ".") {
		if !validToken(p) {
			return fmt.Errorf("relay: subject prefix %q: want dot-separated tokens of letters, digits, '-' or '_'", prefix)
		}
	}
	return nil
}

// tableSubject turns a recorded table name into subject tokens: a schema
// and table become two tokens (billing.invoices), and every byte a token
// cannot hold (space, '*', '>', controls, non-ASCII…) is written %XX, so
// distinct tables keep distinct subjects.
func tableSubject(table string) string {
	parts := strings.Split(table, ".")
	for i, p := range parts {
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		if b.Len() == 0 {
			b.WriteString("%00") // an empty token is not allowed
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, ".")
}
