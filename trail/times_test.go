package trail_test

import (
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

func TestParseTimeReadsUTCAndTimesAgo(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)
	t.Setenv("TZ", "America/New_York") // the machine's zone never applies
	for in, want := range map[string]time.Time{
		"2026-12-04":                now.Truncate(24 * time.Hour),
		"2026-12-04 02:50":          time.Date(2026, 12, 4, 2, 50, 0, 0, time.UTC),
		"2026-12-04T02:50:00.5Z":    time.Date(2026, 12, 4, 2, 50, 0, 5e8, time.UTC),
		"2026-12-04T04:50:00+02:00": time.Date(2026, 12, 4, 2, 50, 0, 0, time.UTC),
		"1h":                        now.Add(-time.Hour),
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.AddDate(0, 0, -7),
		"2w":                        now.AddDate(0, 0, -14),
		"today":                     time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
		"yesterday":                 time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
		"now":                       now,
		"":                          {},
	} {
		got, err := trail.ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "-1h", "2026-13-01", "1y"} {
		if _, err := trail.ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}
