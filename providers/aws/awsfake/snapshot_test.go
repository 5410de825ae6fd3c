package awsfake_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
)

func TestSnapshot(t *testing.T) {
	w := awsfake.New()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w.CreateBucket("releases", true).PutObject("releases", "app/1.tar", []byte("v1"), at).
		PutObject("releases", "app/2.tar", []byte("v2"), at)
	w.DeleteAll("releases", "app/2")
	w.SetRule("rule/1", aws.TargetWeight{TargetGroupARN: "tg/blue", Weight: 90}, aws.TargetWeight{TargetGroupARN: "tg/green", Weight: 10})
	w.SetTargets("tg/blue", "healthy", "i-1")
	snap := w.Snapshot()
	got, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"buckets":{"releases":{"objects":{"app/1.tar":{"content":"v1","meta":{}}},"versioned":true}},` +
		`"rules":{"rule/1":{"tg/blue":90,"tg/green":10}},"targets":{"tg/blue":{"i-1":"healthy"},"tg/green":{}}}`
	if string(got) != want {
		t.Fatalf("snapshot:\n got %s\nwant %s", got, want)
	}
	w.SetRule("rule/1", aws.TargetWeight{TargetGroupARN: "tg/blue", Weight: 100})
	if again, _ := json.Marshal(snap); string(again) != want {
		t.Fatalf("snapshot changed with the world:\n%s", again)
	}
}
