package dockerfake_test

import (
	"encoding/json"
	"testing"

	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
)

func TestSnapshot(t *testing.T) {
	w := dockerfake.New()
	w.AddImages("dcmms/backend:0.2.9")
	id, err := w.RunContainer("backend", "dcmms/backend:0.2.9", map[string]string{"app": "dcmms"})
	if err != nil {
		t.Fatal(err)
	}
	img, ok := w.Container("backend")
	if !ok {
		t.Fatal("no container backend")
	}
	snap := w.Snapshot()
	got, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"containers":{"backend":{"env":[],"health":"healthy","image":"dcmms/backend:0.2.9",` +
		`"image_id":"` + img.ImageID + `","labels":{"app":"dcmms"},"networks":["bridge"],"restart":"unless-stopped","running":true}},` +
		`"images":{"dcmms/backend:0.2.9":"` + img.ImageID + `"}}`
	if string(got) != want {
		t.Fatalf("snapshot:\n got %s\nwant %s", got, want)
	}
	if len(id) < 12 || len(img.ImageID) < 12 {
		t.Fatalf("ids %q %q look wrong", id, img.ImageID)
	}
}
