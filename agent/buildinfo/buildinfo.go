// Package buildinfo holds the version and commit stamped into the binaries
// by the Makefile (-ldflags -X), with fallbacks from the Go build info.
package buildinfo

import "runtime/debug"

// Version and Commit are set by the Makefile at link time.
var (
	Version = "dev"
	Commit  = ""
)

// Get returns the version and commit, taking the commit from the module's
// VCS stamp when the linker did not set it.
func Get() (version, commit string) {
	version, commit = Version, Commit
	if commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit
}
