//go:build sqlaudit_ncruces

package benchmark

import (
	"database/sql"

	ncdriver "github.com/ncruces/go-sqlite3/driver"

	_ "github.com/sqlaudit/sqlaudit/auditncruces"
)

// ncruces's driver registers itself as "sqlite3", as mattn/go-sqlite3 does;
// built with the tag sqlaudit_ncruces and
// -ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName= (as
// scripts/test.sh builds) it registers nothing, and the benchmark registers
// it as its plain driver under a name of its own.
func init() {
	sql.Register(ncrucesPlain, &ncdriver.SQLite{})
	drivers = append(drivers[:len(drivers)-1:len(drivers)-1], &driverSpec{name: "ncruces", aliases: []string{"audit-ncruces"},
		plain: ncrucesPlain, audit: "audit-ncruces", d: sqlite, lib: "github.com/ncruces/go-sqlite3, Wasm, pure Go", params: pragmaParams},
		drivers[len(drivers)-1])
}

const ncrucesPlain = "sqlaudit-bench-ncruces"
