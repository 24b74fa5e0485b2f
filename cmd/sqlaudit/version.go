package main

import (
	"fmt"
	"runtime/debug"
)

// version is the module version and the commit the binary was built from,
// as the Go toolchain records them: "v1.2.0" for go install …@v1.2.0, with
// the commit of a build inside a clone ("(devel)" is a local build).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown: built without module information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += fmt.Sprintf(" (commit %s, %s%s)", rev, at, dirty)
	}
	return v + ", " + info.GoVersion
}
