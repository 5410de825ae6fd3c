package sshfake_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
)

func TestSnapshot(t *testing.T) {
	w := sshfake.New()
	w.Host("web1").WriteFile("/etc/app.conf", "port=80\n").Symlink("/srv/releases/1", "/srv/current")
	w.Host("web1").WriteFile("/srv/blob", strings.Repeat("x", 300))
	w.Down("web2", true)
	snap := w.Snapshot()
	got, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	// sha256 of 300 "x": printf 'x%.0s' {1..300} | sha256sum
	want := `{"hosts":{"web1":{"down":false,"files":{"/etc/app.conf":{"content":"port=80\n","mode":"-rw-r--r--","owner":""},` +
		`"/srv/blob":{"content":{"sha256":"` + sha300x + `","size":300},"mode":"-rw-r--r--","owner":""},` +
		`"/srv/current":{"link":"/srv/releases/1"}}},"web2":{"down":true,"files":{}}}}`
	if string(got) != want {
		t.Fatalf("snapshot:\n got %s\nwant %s", got, want)
	}
	// A deep copy: changing the world later leaves the snapshot alone.
	w.Host("web1").WriteFile("/etc/app.conf", "port=81\n")
	again, _ := json.Marshal(snap)
	if string(again) != want {
		t.Fatalf("snapshot changed with the world:\n%s", again)
	}
}

const sha300x = "0d4e2ca9e9cbced7a7a5380eb29e1a3783b9b6d0db72de36a1051038e1c1fbc7"
