// Prints the built bundle's sizes (raw and gzip): what every page loads, and each lazily loaded chunk.
// Run after `npm run build`: node scripts/bundle-size.mjs
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dir = new URL('../dist/assets/', import.meta.url).pathname;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const groups = [
  ['entry: app.js (every page)', /^app\.js$/],
  ['entry: app.css (every page; includes Monaco and KaTeX styles)', /^app\.css$/],
  ['lazy: Monaco editor', /^monaco-.*\.js$/],
  ['lazy: Monaco editor worker', /^editor\.worker-.*\.js$/],
  ['lazy: Markdown + KaTeX + DOMPurify', /^markdownHtml-.*\.js$/],
  ['lazy: Monaco syntax (python, scala, sql, markdown, javascript)', /^(python|scala|sql|markdown|javascript)-[\w-]+\.js$/],
  ['lazy: vega-embed + vega + vega-lite', /^embed-.*\.js$/],
  ['lazy: plotly.js (plotly figures)', /^plotly\.min-.*\.js$/],
  ['fonts (KaTeX, codicons; fetched when used)', /\.(woff2?|ttf)$/],
];
const files = readdirSync(dir).map((name) => {
  const data = readFileSync(join(dir, name));
  return { name, raw: statSync(join(dir, name)).size, gzip: gzipSync(data).length };
});
const seen = new Set();
for (const [label, pattern] of groups) {
  const matched = files.filter((f) => pattern.test(f.name) && !seen.has(f.name));
  matched.forEach((f) => seen.add(f.name));
  const raw = matched.reduce((s, f) => s + f.raw, 0);
  const gzip = matched.reduce((s, f) => s + f.gzip, 0);
  console.log(`${label.padEnd(66)} ${kb(raw).padStart(12)}  gzip ${kb(gzip).padStart(11)}  (${matched.length} file${matched.length === 1 ? '' : 's'})`);
}
const rest = files.filter((f) => !seen.has(f.name));
if (rest.length) console.log(`other: ${rest.map((f) => `${f.name} ${kb(f.raw)}`).join(', ')}`);
