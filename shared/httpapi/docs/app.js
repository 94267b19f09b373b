// Renders /openapi.json offline: no CDN, no framework.
(async function () {
  const spec = await (await fetch('/openapi.json')).json();
  const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const resolve = (s) => {
    if (s && s.$ref) return spec.components.schemas[s.$ref.split('/').pop()];
    return s;
  };
  const example = (s, depth) => {
    s = resolve(s);
    if (!s || depth > 5) return null;
    if (s.examples && s.examples.length) return s.examples[0];
    if (s.example !== undefined) return s.example;
    const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
    if (t === 'object') {
      const o = {};
      for (const [k, v] of Object.entries(s.properties || {})) o[k] = example(v, depth + 1);
      return o;
    }
    if (t === 'array') return [example(s.items, depth + 1)];
    if (s.enum) return s.enum[0];
    return { string: s.format === 'date-time' ? '2026-01-01T00:00:00Z' : 'string', integer: 0, number: 0, boolean: false }[t] ?? null;
  };
  const fields = (s) => {
    s = resolve(s);
    if (!s || !s.properties) return '';
    const req = new Set(s.required || []);
    return '<ul>' + Object.entries(s.properties).map(([k, v]) => {
      v = resolve(v);
      return `<li><code>${esc(k)}</code>${req.has(k) ? ' <b>required</b>' : ''} — ${esc(v.doc || v.description || (Array.isArray(v.type) ? v.type.join('|') : v.type))}</li>`;
    }).join('') + '</ul>';
  };
  document.getElementById('info').innerHTML = `v${esc(spec.info.version)} · <a style="color:#fff" href="/openapi.json">openapi.json</a><p>${esc(spec.info.description)}</p>`;
  const byTag = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ['Other'])[0];
      (byTag[tag] = byTag[tag] || []).push({ path, method: method.toUpperCase(), op });
    }
  }
  let html = '';
  for (const [tag, ops] of Object.entries(byTag)) {
    html += `<h2>${esc(tag)}</h2>`;
    for (const { path, method, op } of ops) {
      const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
      const okCode = Object.keys(op.responses || {}).find((c) => c.startsWith('2'));
      const ok = okCode && op.responses[okCode].content && op.responses[okCode].content['application/json'];
      const errs = Object.keys(op.responses || {}).filter((c) => !c.startsWith('2')).join(', ');
      html += `<div class="op"><span class="m ${method}">${method}</span><code>${esc(path)}</code>` +
        `${op.security ? '<span class="lock">🔒 API key or login</span>' : ''}<div>${esc(op.summary)}</div>` +
        (op.description ? `<p>${esc(op.description)}</p>` : '') +
        (body ? `<details><summary>Request body</summary>${fields(body.schema)}<pre>${esc(JSON.stringify(example(body.schema, 0), null, 2))}</pre></details>` : '') +
        (ok ? `<details><summary>Response ${okCode}</summary><pre>${esc(JSON.stringify(example(ok.schema, 0), null, 2))}</pre></details>` : `<div>Response ${esc(okCode)}</div>`) +
        (errs ? `<div class="lock">Problems (application/problem+json): ${esc(errs)}</div>` : '') + '</div>';
    }
  }
  document.getElementById('ops').innerHTML = html;
})();
