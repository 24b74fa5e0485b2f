//go:build sqlaudit_ncruces

package sqlaudit_test

// ncruces/go-sqlite3's driver registers itself as "sqlite3", as
// mattn/go-sqlite3 does: this file is only built with the tag
// sqlaudit_ncruces, and the test binary must be linked with
// -ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName= so that ncruces
// registers nothing (scripts/test.sh does both). The plain driver is
// registered here under a name of its own.

import (
	"database/sql"
	"errors"

	"github.com/ncruces/go-sqlite3"
	ncdriver "github.com/ncruces/go-sqlite3/driver"

	"github.com/sqlaudit/sqlaudit/auditncruces"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

func init() {
	sql.Register("sqlite3-ncruces", &ncdriver.SQLite{})
	openNcruces = auditncruces.Open
	if dbtest.Selected("audit-ncruces") {
		auditDrivers = append(auditDrivers, "audit-ncruces")
		sqliteDrivers = append(sqliteDrivers, "audit-ncruces")
	}
	sqliteErrorCodes = append(sqliteErrorCodes, func(err error) (int, bool) {
		var e *sqlite3.Error
		if errors.As(err, &e) {
			return int(e.ExtendedCode()), true
		}
		return 0, false
	})
}
