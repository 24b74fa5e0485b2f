package sqlaudit_test

import (
	"fmt"
	"math/rand/v2"
)

// The replay test's MariaDB shapes that were once silent: a FLOAT column
// whose changes hide below the 6 digits MariaDB prints, and upserts from
// SELECT, with and without FROM.
const mysqlReplayDDL = `ALTER TABLE acc ADD COLUMN f float`

// mysqlRandomUpsert is an upsert of row id (which may have been deleted):
// from VALUES, from a SELECT without FROM, or from a SELECT of a range of
// the table itself.
func mysqlRandomUpsert(rng *rand.Rand, id int) string {
	switch rng.IntN(3) {
	case 0:
		return fmt.Sprintf(`INSERT INTO acc (id, grp, v) VALUES (%d, %d, %d) ON DUPLICATE KEY UPDATE v = v + VALUES(v)`, id, rng.IntN(10), 1+rng.IntN(3))
	case 1:
		return fmt.Sprintf(`INSERT INTO acc (id, grp, v, f) SELECT %d, %d, %d, %s ON DUPLICATE KEY UPDATE v = v + VALUES(v), f = VALUES(f)`,
			id, rng.IntN(10), 1+rng.IntN(3), mysqlRandomFloat(rng))
	}
	return fmt.Sprintf(`INSERT INTO acc (id, grp, v) SELECT s.id, s.grp, 1 FROM acc AS s WHERE s.id BETWEEN %d AND %d ON DUPLICATE KEY UPDATE v = acc.v + 1, f = acc.f + 0.001`, id, id+3)
}

// mysqlRandomFloatUpdate sets row id's FLOAT to a value with 7 significant
// digits.
func mysqlRandomFloatUpdate(rng *rand.Rand, id int) string {
	return fmt.Sprintf(`UPDATE acc SET f = %s WHERE id = %d`, mysqlRandomFloat(rng), id)
}

func mysqlRandomFloat(rng *rand.Rand) string {
	return fmt.Sprintf("%d.%03d", 1000+rng.IntN(3), rng.IntN(1000))
}
