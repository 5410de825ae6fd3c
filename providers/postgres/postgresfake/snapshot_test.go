package postgresfake_test

import (
	"encoding/json"
	"testing"

	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
)

func TestSnapshot(t *testing.T) {
	w := postgresfake.New().SetVersion(20240102)
	got, err := json.Marshal(w.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"backups":{},"database":"dcmms","dirty":false,"version":20240102}`
	if string(got) != want {
		t.Fatalf("snapshot:\n got %s\nwant %s", got, want)
	}
}
