package mysqldialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// upsertSummary is what the outcomes of an upsert's input rows add up to.
type upsertSummary struct {
	recs     [][4]string // action, key, old, new
	affected int64       // as MySQL counts: 1 per inserted row, 2 per changed row
	inserted []int64     // the AUTO_INCREMENT values of the inserted rows, in order
	lii      int64       // the last update-path row's AUTO_INCREMENT value
	last     int64       // the last input row's AUTO_INCREMENT value
	changed  bool        // a row was inserted or changed
}

// upsertRecords turns the outcomes into records and counts, one record per
// row the statement changed: a row it inserted and then updated (two input
// rows with one key) gets one INSERT record of its final image, a row it
// updated twice one UPDATE from its first old image to its last.
func upsertRecords(t *engine.TableInfo, jsonEquals bool, outcome []upsertRow) (upsertSummary, error) {
	var sum upsertSummary
	auto := func(img map[string]json.RawMessage) int64 {
		if myt(t).AutoInc == "" {
			return 0
		}
		return engine.AsInt([]byte(img[myt(t).AutoInc]))
	}
	inserted := map[string]int{} // key → its INSERT record
	updated := map[string]int{}  // key → its UPDATE record
	first := map[string]map[string]json.RawMessage{}
	prev := 0
	for _, r := range outcome {
		switch {
		case r.captured == prev:
			key := jsonPick(r.image, t.Key)
			inserted[key] = len(sum.recs)
			sum.recs = append(sum.recs, [4]string{"INSERT", key, "", jsonRedacted(t, r.image)})
			sum.affected++
			sum.inserted = append(sum.inserted, auto(r.image))
			sum.changed = true
		case r.captured == prev+1 && r.old != nil:
			sum.lii = auto(r.image)
			key := jsonPick(r.old, t.Key)
			for _, k := range t.Key {
				if !sameRendering(t, k, r.old[k], r.image[k], jsonEquals) {
					return sum, errUpsertMovedKey // the statement is undone: see runUpsert
				}
			}
			if !changedRow(t, r.old, r.image, jsonEquals) {
				break // unchanged: counts 0, no record
			}
			sum.affected += 2
			sum.changed = true
			if i, ok := inserted[key]; ok {
				sum.recs[i][3] = jsonRedacted(t, r.image)
				break
			}
			if _, ok := first[key]; !ok {
				first[key], updated[key] = r.old, len(sum.recs)
				sum.recs = append(sum.recs, [4]string{})
			}
			sum.recs[updated[key]] = updateRecord(t, key, first[key], r.image, jsonEquals)
		default:
			return sum, fmt.Errorf("the upsert captured %d old images after %d, expected at most one more", r.captured, prev)
		}
		sum.last = auto(r.image)
		prev = r.captured
	}
	kept := sum.recs[:0]
	for _, r := range sum.recs {
		if r[0] != "" { // a row updated back to its first image has none
			kept = append(kept, r)
		}
	}
	sum.recs = kept
	return sum, nil
}

// errUpsertMovedKey: an upsert's UPDATE list changed a row's key (it may
// assign a key column its own value, as GORM's book_id = VALUES(book_id)).
var errUpsertMovedKey = errors.New("the upsert changed a primary key")

// changedRow reports whether any column's rendering differs.
func changedRow(t *engine.TableInfo, old, img map[string]json.RawMessage, jsonEquals bool) bool {
	for c, v := range old {
		if !sameRendering(t, c, v, img[c], jsonEquals) {
			return true
		}
	}
	return false
}

// updateRecord is the UPDATE record from old to img: the changed columns
// only; none (an empty action) when nothing differs.
func updateRecord(t *engine.TableInfo, key string, old, img map[string]json.RawMessage, jsonEquals bool) [4]string {
	o, n := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	for c, v := range old {
		if !sameRendering(t, c, v, img[c], jsonEquals) {
			o[c], n[c] = v, img[c]
		}
	}
	if len(o) == 0 {
		return [4]string{}
	}
	return [4]string{"UPDATE", key, jsonRedacted(t, o), jsonRedacted(t, n)}
}

// upsertLastID is the id the server's OK packet gives for the plain upsert:
// the first AUTO_INCREMENT value the statement generated (generated tells
// which of the inserted values that is, 0 for none); else, when its UPDATE
// list has c = LAST_INSERT_ID(c) (lii), the last value given to it; else,
// for the VALUES form (not INSERT … SELECT, which reports 0), the last
// input row's value if any row was inserted or changed; else 0.
func upsertLastID(sum upsertSummary, generated int64, lii, fromSelect bool) int64 {
	switch {
	case generated != 0:
		return generated
	case lii:
		return sum.lii
	case !fromSelect && sum.changed:
		return sum.last
	}
	return 0
}

// sameRendering reports whether two renderings of column c are the same
// value, as mySame compares them in SQL: byte for byte, and a JSON column
// (with jsonEquals) as the same JSON value — key order, whitespace and the
// spelling of numbers aside, as JSON_EQUALS compares.
func sameRendering(t *engine.TableInfo, c string, a, b json.RawMessage, jsonEquals bool) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if !jsonEquals || myType(t, c) != "json" {
		return false
	}
	var x, y any
	return decodeJSON(a, &x) == nil && decodeJSON(b, &y) == nil && jsonValueEqual(x, y)
}

func decodeJSON(b []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// jsonValueEqual compares decoded JSON values: objects by their members,
// arrays in order, numbers by value (1 = 1.0 = 1e0).
func jsonValueEqual(x, y any) bool {
	switch a := x.(type) {
	case map[string]any:
		b, ok := y.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !jsonValueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		b, ok := y.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !jsonValueEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := y.(json.Number)
		ra, oka := new(big.Rat).SetString(a.String())
		rb, okb := new(big.Rat).SetString(b.String())
		return ok && oka && okb && ra.Cmp(rb) == 0
	}
	return x == y
}

func jsonPick(img map[string]json.RawMessage, cols []string) string {
	out := make(map[string]json.RawMessage, len(cols))
	for _, c := range cols {
		out[c] = img[c]
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// jsonRedacted renders an image with the redacted columns masked.
func jsonRedacted(t *engine.TableInfo, img map[string]json.RawMessage) string {
	out := make(map[string]json.RawMessage, len(img))
	for c, v := range img {
		out[c] = v
	}
	for _, r := range t.Redact {
		if _, ok := out[r]; ok {
			out[r], _ = json.Marshal(engine.RedactedValue)
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}
