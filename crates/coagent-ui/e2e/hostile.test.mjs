// A hostile page in the same browser, served from another local port (the same site as
// the UI for cookies: the UI's cookie goes along with its requests), tries to read the
// page, start a session, ingest a reply and run a DO, with fetch and with auto-submitting
// forms. Nothing is read, recorded or run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { project, startUi, stopUi, browser } from './harness.mjs';

function hostilePage(ui, d) {
  const targets = [ui.origin, ui.origin.replace('127.0.0.1', 'localhost')];
  const run = `id=${d.id}&sha256=${d.sha256}&confirm=yes&csrf=guessed`;
  const reply = encodeURIComponent('Policy v1.0 loaded.\n\n```bash\n# DO: Hostile\ntouch hostile-ingested\n# END DO\n```\n');
  return `<!doctype html><html><body><script>
const targets = ${JSON.stringify(targets)};
const results = {};
async function attack() {
  for (const t of targets) {
    try { const r = await fetch(t + '/', { credentials: 'include' }); results['read ' + t] = 'read: ' + (await r.text()).slice(0, 40); }
    catch (e) { results['read ' + t] = 'blocked'; }
    try { const r = await fetch(t + '/static/app.js', { credentials: 'include' }); results['js ' + t] = 'read'; } catch (e) { results['js ' + t] = 'blocked'; }
    for (const [p, body] of [['/run', ${JSON.stringify(run)}], ['/start', 'vendor=claude&goal=hostile'], ['/ingest', 'reply=${reply}'], ['/todo/add', 'title=hostile']]) {
      try {
        await fetch(t + p, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
        results['post ' + t + p] = 'sent';
      } catch (e) { results['post ' + t + p] = 'blocked'; }
    }
  }
  // Forms that submit themselves into hidden frames, as a CSRF attack does.
  let n = 0;
  for (const t of targets) {
    for (const [p, fields] of [['/run', ${JSON.stringify({ id: d.id, sha256: d.sha256, confirm: 'yes' })}], ['/start', { vendor: 'claude', goal: 'hostile form' }], ['/ingest', { reply: 'Policy v1.0 loaded.' }]]) {
      const name = 'f' + (n++);
      const frame = document.createElement('iframe'); frame.name = name; document.body.appendChild(frame);
      const form = document.createElement('form'); form.method = 'POST'; form.action = t + p; form.target = name;
      for (const [k, v] of Object.entries(fields)) { const i = document.createElement('input'); i.name = k; i.value = v; form.appendChild(i); }
      document.body.appendChild(form);
      const loaded = new Promise((r) => { frame.onload = r; setTimeout(r, 3000); });
      form.submit();
      await loaded;
    }
  }
  const s = document.createElement('script'); s.src = targets[0] + '/'; document.body.appendChild(s);
  await new Promise((r) => { s.onload = s.onerror = r; setTimeout(r, 3000); });
  window.results = results;
  window.done = true;
}
attack();
</script></body></html>`;
}

test('a hostile page on another local port reads, records and runs nothing', async () => {
  const p = project();
  const started = p.json('start', '--vendor', 'claude', '--goal', 'guard the gate');
  const replyFile = path.join(p.root, 'reply.md');
  writeFileSync(replyFile, `${started.echo}\n\n\`\`\`bash\n# DO: Leave a marker\ntouch pwned\n# END DO\n\`\`\`\n\n[${started.session.slice(0, 6)} t1]\n`);
  const ingested = p.json('ingest', replyFile);
  const d = ingested.dos[0];
  const before = { sessions: p.json('status').sessions_total, todos: p.json('todo', 'list', '--all').todos.length };
  const ui = await startUi(p);
  const ctx = await browser();
  const server = createServer((req, res) => { res.setHeader('Content-Type', 'text/html'); res.end(hostilePage(ui, d)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const page = await ctx.newPage();
    await page.goto(ui.url); // the user's own tab: the cookie is set
    assert.ok(await page.$('#paste'), 'the page itself works');
    const evil = await ctx.newPage();
    await evil.goto(`http://127.0.0.1:${server.address().port}/`);
    await evil.waitForFunction(() => window.done === true, null, { timeout: 60000 });
    const results = await evil.evaluate(() => window.results);
    for (const [k, v] of Object.entries(results)) {
      if (k.startsWith('read') || k.startsWith('js')) assert.equal(v, 'blocked', `${k}: ${v}`);
    }
    await page.waitForTimeout(1000);
    assert.equal(existsSync(path.join(p.dir, 'pwned')), false, 'the DO ran');
    assert.equal(existsSync(path.join(p.dir, 'hostile-ingested')), false);
    const shown = p.json('do', 'show', d.id);
    assert.equal(shown.state, 'proposed');
    assert.deepEqual(shown.runs, []);
    assert.equal(p.json('status').sessions_total, before.sessions, 'a session was started');
    assert.equal(p.json('todo', 'list', '--all').todos.length, before.todos, 'a TODO was added');
    assert.equal(p.json('do', 'list').dos.length, 1, 'a reply was ingested');
    // And the user's own page still runs it, so the refusals were not an accident.
    await page.goto(`${ui.origin}/do/${d.id}`);
    await page.click('#run-button');
    await page.waitForSelector('#result', { timeout: 30000 });
    assert.equal(existsSync(path.join(p.dir, 'pwned')), true);
  } finally {
    server.close();
    await ctx.close();
    await stopUi(ui);
  }
});
