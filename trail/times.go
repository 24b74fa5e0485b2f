package trail

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TimeHelp states the rule of ParseTime, for help texts.
const TimeHelp = `TIME is UTC unless it names its zone, as every time is shown: 2025-05-01T12:00:00Z,
"2025-05-01 12:00" (UTC), 2025-05-01T14:00:00+02:00, 2025-05-01 (midnight UTC), or a time ago:
30m, 1h, 24h, 7d, 2w, now, today (midnight UTC), yesterday (the midnight before)`

// timeLayouts are the absolute forms ParseTime reads; without a zone they
// are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"}

// daysAgo is a time ago in days or weeks (Go durations cover the rest).
var daysAgo = regexp.MustCompile(`^(\d{1,5})\s*(d|w)$`)

// ParseTime reads a time as people type it (see TimeHelp): absolute, UTC
// unless it names its zone, or relative to now. The empty string is the
// zero time.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	day := now.UTC().Truncate(24 * time.Hour)
	switch strings.ToLower(s) {
	case "":
		return time.Time{}, nil
	case "now":
		return now, nil
	case "today":
		return day, nil
	case "yesterday":
		return day.Add(-24 * time.Hour), nil
	}
	if m := daysAgo.FindStringSubmatch(strings.ToLower(s)); m != nil {
		n, _ := strconv.Atoi(m[1])
		if m[2] == "w" {
			n *= 7
		}
		return now.AddDate(0, 0, -n), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: use 2025-05-01T12:00:00Z, \"2025-05-01 12:00\" (UTC), 2025-05-01, or a time ago: 30m, 1h, 24h, 7d, yesterday", s)
}
