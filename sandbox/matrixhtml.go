package sandbox

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"sync"
)

// WriteJSON writes the report as indented JSON.
func (r *MatrixReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("matrix report: %w", err)
	}
	return nil
}

// matrixPage is parsed on first use (not when the program starts).
var matrixPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("matrix").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Rollback matrix: {{.R.Runbook}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d1d1f}
h1{font-size:1.4em} .ok{color:#0a7d32} .bad{color:#b3261e}
table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f7} code,pre{font:12px/1.4 ui-monospace,monospace} pre{margin:0;white-space:pre-wrap}
.add{color:#0a7d32} .del{color:#b3261e} .chg{color:#8a5a00}
</style></head><body>
<h1>Rollback matrix: {{.R.Runbook}}</h1>
<p class="{{if eq .R.Restored (len .R.Cases)}}ok{{else}}bad{{end}}"><strong>{{.R.Verdict}}</strong></p>
{{if .R.Unreached}}<p>Not reached by the fault-free run (conditions false): {{range $i, $n := .R.Unreached}}{{if $i}}, {{end}}<code>{{$n}}</code>{{end}}</p>{{end}}
<h2>Lasting effects (not counted against “restored”)</h2>
{{if .Lasting}}<table><tr><th>World path</th><th>Declared by</th></tr>
{{range .Lasting}}<tr><td><code>{{.Path}}</code></td><td>{{range $i, $w := .By}}{{if $i}}; {{end}}{{$w}}{{end}}</td></tr>{{end}}
</table>{{else}}<p>None.</p>{{end}}
<h2>Cases that did not restore ({{len .Failed}})</h2>
{{if not .Failed}}<p class="ok">Every case restored the world.</p>{{end}}
{{range .Failed}}<h3><code>{{.Node}}</code> × {{.Mode}} → {{.Status}}</h3>
<ul>{{range .Failures}}<li>{{.}}</li>{{end}}</ul>
{{if eq .Mode "crash+resume"}}<p>After the resume: {{if .Then}}<code>{{.Then}}</code> failed{{else}}the run succeeded and was rolled back by request{{end}}.</p>{{end}}
{{if .Error}}<p>Run error: <code>{{.Error}}</code></p>{{end}}
<p>Compensated: {{range $i, $n := .Compensated}}{{if $i}}, {{end}}<code>{{$n}}</code>{{else}}none{{end}}{{if .Pending}}; pending: {{range $i, $n := .Pending}}{{if $i}}, {{end}}<code>{{$n}}</code>{{end}}{{end}}</p>
{{if .Diff}}<table><tr><th>World diff</th></tr>{{range .Diff}}<tr><td><pre class="{{if not .HadBefore}}add{{else if not .HasAfter}}del{{else}}chg{{end}}">{{.String}}</pre></td></tr>{{end}}</table>{{end}}
{{end}}
<h2>All cases</h2>
<table><tr><th>Node</th><th>Mode</th><th>Then failed</th><th>Status</th><th>Restored</th></tr>
{{range .R.Cases}}<tr><td><code>{{.Node}}</code></td><td>{{.Mode}}</td><td>{{if .Then}}<code>{{.Then}}</code>{{end}}</td><td>{{.Status}}</td><td class="{{if .Restored}}ok{{else}}bad{{end}}">{{if .Restored}}yes{{else}}no{{end}}</td></tr>{{end}}
</table>
</body></html>
`))
})

type lastingRow struct {
	Path string
	By   []string
}

// WriteHTML writes a self-contained page (no external resources): the
// verdict, the lasting effects and who declared them, each case that did
// not restore with its failures and world diff, and every case's outcome.
func (r *MatrixReport) WriteHTML(w io.Writer) error {
	var rows []lastingRow
	for p, by := range r.Lasting {
		rows = append(rows, lastingRow{Path: p, By: by})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Path < rows[j].Path })
	data := struct {
		R       *MatrixReport
		Failed  []MatrixCase
		Lasting []lastingRow
	}{r, r.Failed(), rows}
	if err := matrixPage().Execute(w, data); err != nil {
		return fmt.Errorf("matrix report: %w", err)
	}
	return nil
}
