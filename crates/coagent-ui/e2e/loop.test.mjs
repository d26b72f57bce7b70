// The whole loop in the browser, on a throwaway project: start a session, copy the boot
// payload, paste a reply with two DOs, run both with consent, see the diff, copy the
// result, paste the ACKs, watch the bloat gauge move, wrap. A screenshot of each step goes
// to target/ui-screens/; any console or page error fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { project, startUi, stopUi, browser, watchErrors, tabTo, screens } from './harness.mjs';

const gauge = (page, name) => page.$eval(`#sessions article.session meter[data-signal="${name}"]`, (m) => Number(m.value));

test('the whole loop, in a real browser, with the keyboard', async () => {
  mkdirSync(screens, { recursive: true });
  const p = project();
  const todos = p.json('todo', 'list').todos;
  const ui = await startUi(p);
  const ctx = await browser();
  let n = 0;
  const shot = async (page, name) => page.screenshot({ path: path.join(screens, `${String(++n).padStart(2, '0')}-${name}.png`), fullPage: true });
  try {
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ui.origin });
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

    // The address carries the secret; the page trades it for a cookie and drops it.
    await page.goto(ui.url);
    assert.equal(new URL(page.url()).search, '', 'the secret stays in the address bar');
    await shot(page, 'page');

    // Start a session (keyboard only).
    await page.selectOption('#vendor', 'claude');
    await page.fill('#goal', 'Make greeter friendlier');
    await page.focus('#goal');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#flash.start');
    const echo = (await page.textContent('#flash .echo')).trim();
    assert.match(echo, /^Policy v\d+\.\d+ loaded\.$/);
    assert.match(await page.textContent('#flash .cli'), /coagent start --vendor claude --goal 'Make greeter friendlier'/);
    await shot(page, 'started');

    // Copy the boot payload and read it back from the clipboard.
    await tabTo(page, '#outbox button.copy');
    await page.waitForFunction(() => document.querySelector('#outbox button.copy').textContent.includes('Copied'));
    const boot = await clipboard();
    assert.match(boot, /^<!-- coagent v1 id=BC-\S+ kind=boot part=1\/1/);
    assert.ok(boot.includes('## Policy Capsule') && boot.includes(todos[0].id), 'the boot payload carries the capsule and the TODOs');
    const tag = boot.match(/`\[(S-[0-9A-Z]+) tN\]`/)[1];
    await shot(page, 'boot-copied');
    const completedBefore = await gauge(page, 'dos_completed');
    const ingestsBefore = await gauge(page, 'ingests');

    // The chat's reply with two DOs, pasted with the page's Paste button.
    const reply = [
      echo, '',
      'Two small steps for the top TODOs: the first patches `greet` and checks it, the second writes a one-line summary of the module as an artifact.', '',
      '```bash', '# DO: Greet with a comma', `# TODO: ${todos[0].id}`, 'set -eu',
      'echo "step 1: patching greeter/__init__.py"', 'sleep 1',
      "python3 - <<'PY'", 'import pathlib', 'p = pathlib.Path("greeter/__init__.py")',
      `p.write_text(p.read_text().replace('"Hello " + name', '"Hello, " + name'))`, 'PY',
      'echo "step 2: checking"', 'sleep 1',
      `python3 -c 'import greeter; assert greeter.greet("Ada") == "Hello, Ada"; print("greet ok")'`,
      '# END DO', '```', '',
      '```bash', '# DO: Describe the module', `# TODO: ${todos[1].id}`, 'set -eu',
      `printf 'greeter: one function, greet(name), returns a greeting.\\n' > "$COAGENT_OUT/summary.md"`,
      'echo "summary written"', '# END DO', '```', '',
      'Paste back the result and I will check the diff.', '', `[${tag} t1]`, '',
    ].join('\n');
    await page.evaluate((t) => navigator.clipboard.writeText(t), reply);
    await tabTo(page, '#paste-button');
    await page.waitForFunction(() => document.getElementById('reply').value.length > 0);
    assert.equal(await page.inputValue('#reply'), reply);
    await tabTo(page, '#paste button[type=submit]');
    await page.waitForSelector('#flash.ingest');
    const flash = await page.textContent('#flash');
    assert.match(flash, /echo\s*verified/);
    assert.equal((await page.$$('#flash dd a[href^="/do/"]')).length, 2, 'two DOs found');
    await shot(page, 'reply-ingested');

    // Review both, with their scripts, hashes, guard and risks; run them (keyboard).
    await tabTo(page, '#flash a[href^="/plan"]');
    await page.waitForSelector('form.consent');
    assert.equal((await page.$$('article.do')).length, 2);
    assert.ok(await page.$('article.do pre.script span.c'), 'the script is highlighted');
    assert.match(await page.textContent('form.consent code'), /coagent do run --all/);
    await shot(page, 'consent');
    await tabTo(page, '#run-button');
    await page.waitForURL(/\/job\//);
    await page.waitForFunction(() => document.getElementById('live').textContent.includes('step 1'));
    await shot(page, 'live-output');
    await page.waitForSelector('#result', { timeout: 30000 });
    const live = await page.textContent('#live');
    assert.ok(live.includes('greet ok') && live.includes('summary written'), live);

    // The rendered diff: the file, its hunk, one line out and one in.
    const file = await page.textContent('.diff details.file summary');
    assert.match(file, /greeter\/__init__\.py\s+\+1\s+−1/);
    assert.ok(await page.$('.diff tr.add') && await page.$('.diff tr.del'));
    assert.ok(existsSync(path.join(p.dir, 'greeter', '__init__.py')));
    assert.match(readFileSync(path.join(p.dir, 'greeter', '__init__.py'), 'utf8'), /"Hello, " \+ name/);
    await shot(page, 'diff');

    // Copy the result payload for the chat.
    await tabTo(page, '#copy-result-1');
    await page.waitForFunction(() => document.getElementById('copy-result-1').textContent.includes('Copied'));
    const result = await clipboard();
    const acks = await page.$$eval('#payload li code', (cs) => cs.map((c) => c.textContent.trim()));
    assert.equal(acks.length, 2);
    for (const a of acks) assert.ok(result.includes(a.split(' ')[1]), `the result names ${a}`);
    await shot(page, 'result-copied');

    // The chat's ACKs (and a DONE for the first TODO) come back.
    const refs = acks[0].split(' ').slice(2).join(' ');
    const ackReply = ['Both ran cleanly; the diff is what I meant.', '', ...acks, `DONE ${todos[0].id} ${refs}`, '', `[${tag} t2]`, ''].join('\n');
    await page.goto(`${ui.origin}/#paste`);
    await page.fill('#reply', ackReply);
    await tabTo(page, '#paste button[type=submit]');
    await page.waitForSelector('#flash.ingest');
    assert.equal((await page.$$('#flash dd span.accepted')).length, 3, await page.textContent('#flash'));

    // The bloat gauges moved: two DOs completed, two more turns.
    assert.equal(await gauge(page, 'dos_completed'), completedBefore + 2);
    assert.equal(await gauge(page, 'ingests'), ingestsBefore + 2);
    // The chart: three turns, and the first reply's two DOs.
    assert.equal((await page.$$('#sessions svg.chart rect.out')).length, 3);
    assert.equal(await page.textContent('#sessions svg.chart text.dos'), '2turn 1: 2 DO(s) proposed');
    await page.locator('#sessions').scrollIntoViewIfNeeded();
    await shot(page, 'acked-gauges');

    // Wrap now; the respawn payload is in the outbox; the archive verifies.
    await tabTo(page, '#sessions form[action="/wrap"] button');
    await page.waitForSelector('#flash.wrap');
    assert.match(await page.textContent('#flash'), /Respawn session S-/);
    assert.ok((await page.textContent('#outbox')).includes('respawn'), 'the respawn payload waits in the outbox');
    await shot(page, 'wrapped');
    await tabTo(page, '#wraps form button');
    await page.waitForSelector('#flash.verify');
    assert.match(await page.textContent('#flash'), /verified/);
    await shot(page, 'wrap-verified');

    // A command in a terminal changes the hub: the page offers a reload, and shows it.
    await page.waitForTimeout(2500); // the watcher's ticks and the page's own reads change nothing
    assert.ok(await page.$('#changed[hidden]'), 'a reload was offered though nothing changed');
    p.cli('todo', 'add', 'Added from a terminal');
    await page.waitForSelector('#changed:not([hidden])', { timeout: 15000 });
    await shot(page, 'changed-elsewhere');
    await tabTo(page, '#reload');
    await page.waitForFunction(() => document.getElementById('todos').textContent.includes('Added from a terminal'));
    // The reload drops the wrap's report: after a change made elsewhere it is old news.
    assert.equal(await page.$('#flash'), null, 'the old report was drawn again');
    assert.ok(!page.url().includes('report='), page.url());

    // The CLI sees what the page did.
    const status = p.json('status');
    const old = status.sessions.find((s) => s.id.startsWith(tag));
    assert.equal(old.state, 'wrapped');
    assert.deepEqual(errors, [], 'no console or page errors');
  } finally {
    await ctx.close();
    await stopUi(ui);
  }
});
