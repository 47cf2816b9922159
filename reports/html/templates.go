package html

import "html/template"

// The pages carry their style and script inline: a CI artifact opened
// with file:// has nothing else to fetch, and a page saved or mailed alone
// still reads.

const css = `
:root{--bad:#b00020;--badbg:#fde8ec;--good:#1b6e20;--goodbg:#e6f4e7;--dim:#666;--line:#ddd}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 1.5em 3em;color:#222}
h1{font-size:1.5em;margin:.6em 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid var(--line)}
a{color:#0645ad}code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-word;margin:.3em 0}
.dim{color:var(--dim)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:2px 6px;border-bottom:1px solid #eee}
th{background:#f4f4f4;position:sticky;top:0;z-index:1}
.num{text-align:right;white-space:nowrap}
.verdict{padding:.4em 1em;margin:1em 0;border-radius:6px}
.verdict.good{background:var(--goodbg);color:var(--good)}.verdict.bad{background:var(--badbg);color:var(--bad)}
.verdict p{margin:.2em 0;color:#222}
.state{display:inline-block;padding:0 .5em;border-radius:3px;background:#eee;font-weight:600}
.st-passed .state,.state.st-passed{background:var(--goodbg);color:var(--good)}
.failed .state,.state.failed{background:var(--bad);color:#fff}
.st-skipped .state,.state.st-skipped{background:#fff3cd;color:#7a5b00}
tr.failed td{background:var(--badbg)}
.label{display:inline-block;background:#eef;border-radius:3px;padding:0 .35em;font-size:12px;margin:1px}
.msg{color:var(--bad);font-size:12.5px;margin-top:2px}
.filters{margin:.4em 0;display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center}
.filters fieldset{border:1px solid var(--line);padding:.1em .6em;margin:0}
.filters label{white-space:nowrap;margin-right:.6em}
.failbox{border:2px solid var(--bad);background:var(--badbg);padding:.5em 1em;border-radius:6px}
.failbox.skip{border-color:#c9a400;background:#fff8e1}
.failbox h2{border:0;margin:.2em 0;color:var(--bad)}
.failbox .loc{font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 1em;margin:.3em 0}
dl.meta dt{color:var(--dim)}dl.meta dd{margin:0}
ul.files{margin:.2em 0;padding-left:1.2em}
table.nodes td:first-child{font-weight:600;white-space:nowrap}
table.specs td:nth-child(3){width:55%}
table.specs td:nth-child(2){white-space:nowrap}
table.specs td:nth-child(7){word-break:break-all;width:20%}
.nodes a{margin-right:.8em;white-space:nowrap}
svg.chart{width:100%;height:170px;display:block;background:#fcfcfc;border:1px solid #eee}
svg.chart.probe{height:80px}
svg .axis{stroke:#999}svg .tick{stroke:#999}svg .lbl{font-size:10px;fill:#555}
svg .span{fill:#e8f0fe}svg .failmark{stroke:var(--bad);stroke-width:2}svg .faillbl{fill:var(--bad);font-size:11px;font-weight:700}
svg .push{stroke:#000;stroke-width:2}svg .sent{stroke:#555;stroke-width:1.2}svg .lost{fill:var(--bad)}
.legend span{display:inline-block;margin-right:1em;white-space:nowrap}
.legend i{display:inline-block;width:1.2em;height:.35em;vertical-align:middle;margin-right:.3em}
table.tl td{font-size:12.5px;padding:1px 6px}
table.tl td:nth-child(-n+2){white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;color:var(--dim)}
table.tl td:nth-child(3){white-space:nowrap}
table.tl td:nth-child(4){min-width:24em}
table.tl td:nth-child(5){overflow-wrap:anywhere}
tr[data-k=isakmp] td:nth-child(4){color:#0b3d91}
tr[data-k=data] td{color:#555}
tr[data-k=bad] td{background:#fff0f0}
tr[data-k=event] td:nth-child(4){color:#6a3d00}
tr[data-k=log] td{color:#777;font-style:italic}
tr[data-k=step] td{background:#eef7ee}
tr[data-k=fail] td{background:var(--bad);color:#fff;font-weight:700}
tr[data-k=cut] td{background:repeating-linear-gradient(45deg,#f3f3f3,#f3f3f3 6px,#e9e9e9 6px,#e9e9e9 12px);color:#444;font-style:italic}
tr.hot td:nth-child(4){font-weight:700}
tr.in td:first-child{box-shadow:inset 3px 0 #4a7bd0}
#failure{scroll-margin-top:4em}
.note{background:#fff8e1;padding:.3em .8em;border-left:4px solid #c9a400;margin:.4em 0}
details{margin:.3em 0}summary{cursor:pointer}
nav{margin-top:.8em}
`

// specJS adds the timeline's filters: one switch per kind of row and per
// link or node, counted. The page reads complete without it.
const specJS = `
(function () {
  var t = document.getElementById("tl"), bar = document.getElementById("filters");
  if (!t || !bar) return;
  var rows = t.tBodies[0].rows, kinds = {}, wheres = {}, off = {};
  var names = {isakmp: "ISAKMP/GDOI messages", data: "packet runs (ESP, probes, …)", bad: "malformed frames",
    event: "daemon events", log: "log lines", step: "spec steps"};
  for (var i = 0; i < rows.length; i++) {
    var k = rows[i].getAttribute("data-k"), w = rows[i].cells[2].textContent;
    if (k === "fail" || k === "cut") continue;
    kinds[k] = (kinds[k] || 0) + 1;
    if (w) wheres[w] = (wheres[w] || 0) + 1;
  }
  var count = document.createElement("span");
  count.id = "shown";
  function apply() {
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], k = r.getAttribute("data-k");
      var hide = k !== "fail" && k !== "cut" && (off["k:" + k] || off["w:" + r.cells[2].textContent]);
      r.style.display = hide ? "none" : "";
      if (!hide) shown++;
    }
    count.textContent = shown + " of " + rows.length + " rows shown";
  }
  function group(title, map, prefix, label) {
    var fs = document.createElement("fieldset"), lg = document.createElement("legend");
    lg.textContent = title;
    fs.appendChild(lg);
    Object.keys(map).sort().forEach(function (key) {
      var l = document.createElement("label"), c = document.createElement("input");
      c.type = "checkbox";
      c.checked = true;
      c.setAttribute("data-filter", prefix + key);
      c.onchange = function () { off[prefix + key] = !c.checked; apply(); };
      l.appendChild(c);
      l.appendChild(document.createTextNode(" " + label(key) + " (" + map[key] + ")"));
      fs.appendChild(l);
    });
    bar.appendChild(fs);
  }
  group("show", kinds, "k:", function (k) { return names[k] || k; });
  group("where", wheres, "w:", function (w) { return w; });
  bar.appendChild(count);
  apply();
  bar.setAttribute("data-ready", "1");
})();
`

// indexJS filters the spec table by text and to the failures.
const indexJS = `
(function () {
  var t = document.getElementById("specs"), bar = document.getElementById("ifilters");
  if (!t || !bar) return;
  var rows = t.tBodies[0].rows;
  var q = document.createElement("input"), only = document.createElement("input"), l = document.createElement("label");
  var count = document.createElement("span");
  q.type = "search";
  q.placeholder = "filter specs: suite, text, label, state";
  q.size = 40;
  only.type = "checkbox";
  l.appendChild(only);
  l.appendChild(document.createTextNode(" failures only"));
  function apply() {
    var s = q.value.toLowerCase(), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var hide = (only.checked && !r.classList.contains("failed")) || (s && r.textContent.toLowerCase().indexOf(s) < 0);
      r.style.display = hide ? "none" : "";
      if (!hide) shown++;
    }
    count.textContent = shown + " of " + rows.length + " specs shown";
  }
  q.oninput = apply;
  only.onchange = apply;
  bar.appendChild(q);
  bar.appendChild(l);
  bar.appendChild(count);
  apply();
  bar.setAttribute("data-ready", "1");
})();
`

const head = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
`

var indexTmpl = template.Must(template.New("index").Parse(head + `<title>getlab conformance: {{if .Failed}}FAILED{{else}}passed{{end}}</title>
<style>` + css + `</style></head>
<body>
<header class="verdict {{if .Failed}}bad{{else}}good{{end}}">
<h1 id="verdict">getlab conformance: {{if .Failed}}FAILED{{else}}PASSED{{end}}</h1>
<p class="counts"><b>{{.Counts.Passed}}</b> passed · <b>{{.Counts.Failed}}</b> failed · <b>{{.Counts.Skipped}}</b> skipped{{if .Counts.Pending}} · {{.Counts.Pending}} pending{{end}}{{if .Counts.Unselected}} · {{.Counts.Unselected}} not selected by the label filter{{end}} — {{.Run}} specs run</p>
<p class="dim">Run started {{.Start}}; {{.Took}} of suite time. Written {{.Generated}} by <code>getlab report</code>.{{if .Others}} Also: {{range .Others}}<a href="{{.Href}}">{{.Name}}</a> {{end}}{{end}}</p>
</header>
<h2>Implementations under test</h2>
<ul>{{range .Impls}}<li>{{.Text}} <span class="dim">({{.Specs}} specs)</span></li>{{else}}<li class="dim">no spec named its implementations</li>{{end}}</ul>
{{if .Version}}<p>getvpnd built for this run: <code>{{.Version}}</code></p>{{end}}
{{if .Daemons}}<p>Versions the daemons' status reported: {{.Daemons}}</p>{{end}}
<h2>Suites</h2>
<table class="suites"><thead><tr><th>suite</th><th>verdict</th><th class="num">passed</th><th class="num">failed</th><th class="num">skipped</th><th class="num">time</th></tr></thead><tbody>
{{range .Suites}}<tr class="{{if .OK}}st-passed{{else}}failed{{end}}"><td>{{.Name}}</td><td><span class="state">{{if .OK}}PASS{{else}}FAIL{{end}}</span>{{if .SpecialFailure}} <span class="msg">{{.SpecialFailure}}</span>{{end}}</td><td class="num">{{.Passed}}</td><td class="num">{{.Failed}}</td><td class="num">{{.Skipped}}</td><td class="num">{{.Took}}</td></tr>
{{end}}</tbody></table>
<h2>Specs <span class="dim">(failures first; each links to its page with its timeline)</span></h2>
<div id="ifilters" class="filters"></div>
<table id="specs" class="specs"><thead><tr><th class="num">#</th><th>suite</th><th>spec</th><th>labels</th><th>state</th><th class="num">duration</th><th>artifacts</th></tr></thead><tbody>
{{range .Specs}}<tr class="st-{{.State}}{{if .Failed}} failed{{end}}" data-state="{{.State}}"><td class="num"><a href="{{.Page}}">{{.N}}</a></td><td>{{.Suite}}</td><td><a href="{{.Page}}">{{if .Containers}}<span class="dim">{{.Containers}} ›</span> {{end}}{{.Leaf}}</a>{{if .Message}}<div class="msg">{{.Message}}{{if .Location}} <span class="dim">({{.Location}})</span>{{end}}</div>{{end}}</td><td>{{range .Labels}}<span class="label">{{.}}</span>{{end}}</td><td><span class="state">{{.State}}</span></td><td class="num">{{.Duration}}</td><td>{{if .Folder}}<a href="{{.Folder}}">{{.FolderName}}/</a>{{else if .Recorded}}<span class="dim" title="not found under this report's folder">{{.Recorded}}</span>{{end}}</td></tr>
{{end}}</tbody></table>
<script>` + indexJS + `</script>
</body></html>
`))

var specTmpl = template.Must(template.New("spec").Parse(head + `<title>{{if .Failed}}FAILED: {{end}}{{.Title}} — getlab</title>
<style>` + css + `</style></head>
<body>
<nav><a href="../index.html">← all specs</a> · spec {{.N}} · {{.Suite}}{{range .Containers}} › {{.}}{{end}}</nav>
<h1>{{.Leaf}}</h1>
<p><span class="state st-{{.State}}{{if .Failed}} failed{{end}}">{{.State}}</span> in {{.Duration}}{{range .Labels}} <span class="label">{{.}}</span>{{end}}{{if .Failure}} · <a href="#failure">the failure on the timeline</a>{{end}}</p>
<dl class="meta">
<dt>suite</dt><dd>{{.Suite}}</dd>
<dt>spec</dt><dd class="mono">{{.Location}}</dd>
{{if .Start}}<dt>started</dt><dd>{{.Start}}</dd>{{end}}
{{if .Impls}}<dt>implementations</dt><dd>{{.Impls}}</dd>{{end}}
{{if .Folder}}<dt>artifacts</dt><dd><a href="{{.Folder}}">{{.FolderName}}/</a></dd>{{else if .Recorded}}<dt>artifacts</dt><dd class="dim">{{.Recorded}} (not found under this report's folder)</dd>{{end}}
{{if .Shared}}<dt>same scenario</dt><dd>{{range $i, $s := .Shared}}{{if $i}} · {{end}}{{if .This}}<b>this spec</b>{{else}}<a href="{{.Href}}">{{.Text}}</a> <span class="dim">({{.State}})</span>{{end}}{{end}}</dd>{{end}}
</dl>
{{with .Failure}}<section class="failbox{{if not $.Failed}} skip{{end}}" id="failurebox">
<h2>{{.What}}</h2>
<p class="loc mono">{{.Location}}{{if .Node}} <span class="dim">{{.Node}}</span>{{end}}</p>
{{if .At}}<p>at {{.At}}</p>{{end}}
<pre class="failmsg">{{.Message}}</pre>
{{if .Progress}}<p>Where it was: {{.Progress}}</p>{{end}}
{{if .Additional}}<pre>{{.Additional}}</pre>{{end}}
{{if .Stack}}<details><summary>stack</summary><pre>{{.Stack}}</pre></details>{{end}}
</section>{{end}}
<h2>Artifacts</h2>
{{if .Top}}<ul class="files">{{range .Top}}<li><a href="{{.Href}}">{{.Name}}</a> <span class="dim">{{.Note}}</span></li>{{end}}</ul>{{end}}
{{if .Wireshark}}<p>Wireshark: {{range .Wireshark}}<a href="{{.Href}}">{{.Name}}</a> {{end}}{{if .WiresharkTo}}<span class="dim">— a profile written from keys.log: copy its folder to ~/.config/wireshark/profiles/getlab and open the capture with <code>wireshark -C getlab capture.pcapng</code> (ESP and phase 1 decrypted, UDP 848 as ISAKMP)</span>{{end}}</p>{{end}}
{{if .Tshark}}<details><summary>tshark command that decrypts this capture</summary><pre>{{.Tshark}}</pre></details>{{end}}
{{if .Nodes}}<table class="nodes"><tbody>{{range .Nodes}}<tr><td>{{.Node}}</td><td>{{range .Files}}<a href="{{.Href}}">{{.Name}}</a> {{end}}</td></tr>{{end}}</tbody></table>{{end}}
{{if not .Top}}{{if not .Recorded}}<p class="dim">This spec left no artifact folder.</p>{{end}}{{end}}
{{if .Entries}}<h2>Report entries</h2>
<table class="entries"><thead><tr><th>time</th><th>name</th><th>value</th></tr></thead><tbody>
{{range .Entries}}<tr><td class="mono" title="{{.Location}}">{{.Abs}} <span class="dim">{{.Rel}}</span></td><td>{{.Name}}</td><td>{{if .Multi}}<pre>{{.Value}}</pre>{{else}}{{.Value}}{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if .Chart}}<h2>Packets per second per link</h2>
<p class="dim">{{.Packets}} frames in capture.pcapng, counted in {{.Bucket}} bins; the shaded span is this spec, black ticks at the top are GROUPKEY-PUSH messages{{if .Failed}}, the red line the failure{{end}}.</p>
{{.Chart}}
<p class="legend">{{range .Legend}}<span><i style="background:{{.Color}}"></i>{{.Name}} <span class="dim">({{.Frames}})</span></span>{{end}}</p>
{{if .ChartNote}}<p class="note">{{.ChartNote}}</p>{{end}}
{{end}}
{{if .Probes}}<h2>Probe streams</h2>
<p class="dim">Each stream's probes per second where it enters the capture (grey) and, in red, the ones never seen where it leaves it: lost on the way (or dropped by the capture, see its report entries).</p>
{{range .Probes}}<p>stream 0x{{printf "%08x" .S.ID}} {{.S.Src}}→{{.S.Dst}}: {{.S.Sent}} seen on {{.S.In}}{{if .S.Out}}, {{.S.Lost}} of them never on {{.S.Out}} ({{printf "%.2f" .Percent}} %){{else}}, seen on no other link{{end}} <span class="dim">— links {{range .S.Links}}{{.}} {{end}}</span></p>
{{.SVG}}{{end}}{{end}}
<h2>Timeline</h2>
<p class="dim">The capture's packets (every ISAKMP/GDOI message a row; ESP and other packets a row per flow and second), the daemons' events and log lines, and this spec's own steps, by time. Times are UTC; +s counts from the first row. Rows of this spec's own span have a blue edge.{{if .Chatter}} ARP, IPv6 neighbour discovery and MLD ({{.Chatter}} frames) are in the chart, not here.{{end}}</p>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .RowsCut}}<p class="note">The timeline is cut at {{.MaxRows}} rows: {{.RowsCut}} of {{.RowsTotal}} rows are left out (striped rows say where and what); kept are the first rows and those around {{if .Failure}}the failure{{else}}the spec's start{{end}}.</p>{{end}}
<div id="filters" class="filters"></div>
<table id="tl" class="tl"><thead><tr><th>time</th><th>+s</th><th>where</th><th>what</th><th>detail</th></tr></thead><tbody>
{{range .Rows}}<tr data-k="{{.K}}"{{if .Class}} class="{{.Class}}"{{end}}{{if .ID}} id="{{.ID}}"{{end}}><td>{{.Abs}}<td>+{{.Rel}}<td>{{.W}}<td>{{.What}}<td>{{.Detail}}</tr>
{{end}}</tbody></table>
{{if .Output}}<h2>Output</h2><details><summary>GinkgoWriter and stdout/stderr</summary><pre>{{.Output}}</pre></details>{{end}}
<p class="dim">Written {{.Generated}} UTC by <code>getlab report</code>.</p>
<script>` + specJS + `</script>
</body></html>
`))
