package trace

import (
	"html/template"
	"io"
)

// WriteHTML writes t as a self-contained page: the counts, then every
// catalogue entry by section with its specs and verdict, then the RFC
// clauses the specs name.
func WriteHTML(w io.Writer, t Table, title string) error {
	return page.Execute(w, struct {
		Title string
		Table
	}{title, t})
}

var page = template.Must(template.New("conformance").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}
td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}
.passed{color:#176f2c}.failed{color:#b00020;font-weight:bold}.skipped{color:#8a6d00}.untested{color:#777}
tr.section td{background:#eef;font-weight:bold}
ul{margin:0;padding-left:1.2em}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Seed behaviours of the feature catalogue:
<span class="passed">{{index .Counts "passed"}} passed</span>,
<span class="failed">{{index .Counts "failed"}} failed</span>,
<span class="skipped">{{index .Counts "skipped"}} skipped</span>,
<span class="untested">{{index .Counts "untested"}} with no spec yet</span>.
A spec checks an entry by naming its ID as a label (suitekit.Checks) or in its text.</p>
<table><tr><th>ID</th><th>behaviour</th><th>verdict</th><th>specs</th></tr>
{{- $sec := ""}}
{{- range .Features}}
{{- if ne .Section $sec}}{{$sec = .Section}}<tr class="section"><td colspan="4">{{.Section}}</td></tr>{{end}}
<tr id="{{.ID}}"><td>{{.ID}}</td><td>{{.Title}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{if .Specs}}<ul>{{range .Specs}}<li class="{{.State}}">{{.Spec}} <small>({{.State}}, by {{.Via}})</small></li>{{end}}</ul>{{end}}</td></tr>
{{- end}}
</table>
<h2>RFC clauses named by specs</h2>
<table><tr><th>clause</th><th>verdict</th><th>specs</th></tr>
{{- range .RFCs}}
<tr id="{{.ID}}"><td>{{.ID}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td><ul>{{range .Specs}}<li class="{{.State}}">{{.Spec}} <small>({{.State}}, by {{.Via}})</small></li>{{end}}</ul></td></tr>
{{- end}}
</table>
</body></html>
`))
