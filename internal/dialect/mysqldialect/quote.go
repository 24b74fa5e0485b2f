package mysqldialect

import (
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// mysqlIdent quotes an identifier with backticks (doubled inside).
func mysqlIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// mysqlSpelled is a table reference quoted for MySQL.
func mysqlSpelled(r sqlstmt.TableRef) string {
	if r.Schema != "" {
		return mysqlIdent(r.Schema) + "." + mysqlIdent(r.Name)
	}
	return mysqlIdent(r.Name)
}

// mysqlString quotes a string literal; backslashes are doubled because the
// server reads them as escapes (NO_BACKSLASH_ESCAPES is refused).
func mysqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
