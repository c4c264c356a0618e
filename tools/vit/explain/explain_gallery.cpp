#include "explain_gallery.hpp"

#include <nlohmann/json.hpp>

#include "common.hpp"

namespace vit_cli {
namespace {

// The page: the entries arrive as JSON in a script element; the script draws the cards, the class and
// correctness filters and the sort order, and reports in #status how many panels loaded (the tests
// read it back from headless Chromium).
const char* const kPage = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vit explain: @TITLE@</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1em; background: #fafafa; color: #222; }
header { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin-bottom: 1em; }
h1 { font-size: 1.2em; margin: 0; }
#grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
.card img { width: 100%; height: auto; display: block; }
.card .name { font-size: 0.8em; color: #666; word-break: break-all; }
.right { border-left: 6px solid #2a2; } .wrong { border-left: 6px solid #c22; }
</style></head>
<body>
<header>
<h1>@TITLE@</h1>
<label>class <select id="cls"><option value="">all</option></select></label>
<label>show <select id="ok"><option value="">all</option><option value="right">right</option><option value="wrong">wrong</option></select></label>
<label>sort <select id="sort"><option value="name">by name</option><option value="prob-desc">most confident first</option><option value="prob-asc">least confident first</option><option value="label">by predicted class</option></select></label>
<span id="status">loading</span>
</header>
<div id="grid"></div>
<script id="data" type="application/json">@DATA@</script>
<script>
const entries = JSON.parse(document.getElementById('data').textContent);
const grid = document.getElementById('grid'), status = document.getElementById('status');
const classes = [...new Set(entries.flatMap(e => [e.label, e.truth]).filter(c => c))].sort();
for (const c of classes) { const o = document.createElement('option'); o.value = o.textContent = c; document.getElementById('cls').appendChild(o); }
const cards = entries.map(e => {
  const card = document.createElement('div');
  card.className = 'card' + (e.truth ? (e.truth === e.label ? ' right' : ' wrong') : '');
  const img = document.createElement('img');
  img.src = e.panel.split('/').map(encodeURIComponent).join('/'); img.alt = e.input; img.loading = 'eager';
  img.addEventListener('load', report); img.addEventListener('error', report);
  const text = document.createElement('div');
  text.textContent = (e.label ? e.label + ' ' + (100 * e.probability).toFixed(1) + '%' : 'no classifier') +
                     (e.truth ? (e.truth === e.label ? ' (right)' : ' (wrong: ' + e.truth + ')') : '');
  const name = document.createElement('div'); name.className = 'name'; name.textContent = e.input;
  card.append(img, text, name);
  return {e, card, img};
});
function report() {
  const done = cards.filter(c => c.img.complete);
  const ok = done.filter(c => c.img.naturalWidth > 0).length;
  status.textContent = done.length < cards.length ? 'loading' : 'loaded ' + ok + ' of ' + cards.length + ' images';
}
function draw() {
  const cls = document.getElementById('cls').value, ok = document.getElementById('ok').value, sort = document.getElementById('sort').value;
  const shown = cards.filter(({e}) => (!cls || e.label === cls || e.truth === cls) &&
      (!ok || (e.truth && (ok === 'right') === (e.truth === e.label))));
  const key = {name: c => c.e.input, label: c => c.e.label + '\u0000' + c.e.input};
  shown.sort((a, b) => sort === 'prob-desc' ? b.e.probability - a.e.probability :
                       sort === 'prob-asc' ? a.e.probability - b.e.probability :
                       key[sort](a).localeCompare(key[sort](b)));
  grid.replaceChildren(...shown.map(c => c.card));
}
for (const id of ['cls', 'ok', 'sort']) document.getElementById(id).addEventListener('change', draw);
draw();
report();
</script>
</body></html>
)HTML";

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

}  // namespace

void write_gallery(const std::string& dir, const std::string& title, const std::vector<GalleryEntry>& entries) {
    nlohmann::json data = nlohmann::json::array();
    for (const GalleryEntry& e : entries)
        data.push_back({{"panel", e.panel}, {"input", e.input}, {"label", e.label}, {"probability", e.probability},
                        {"truth", e.truth}});
    // Inside a script element only "</" can end it early; "<\/" means the same to JSON.
    std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    replace_all(json, "</", "<\\/");
    std::string page = kPage;
    replace_all(page, "@TITLE@", html_escape(title));
    replace_all(page, "@DATA@", json);
    vit::write_text_atomic(dir + "/index.html", page);
}

}  // namespace vit_cli
