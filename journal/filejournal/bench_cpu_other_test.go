//go:build !unix

package filejournal_test

import "time"

// cpuTime is not measured on this system: CPU figures read 0.
func cpuTime() time.Duration { return 0 }
