// What the end-to-end tests share: a throwaway git project with a hub, `coagent ui` on
// it (the real binary), and Debian's Chromium driven by playwright-core, with the flags a
// root CI machine needs and a fresh profile each time.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../../..');
const target = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
export const bin = process.env.COAGENT_BIN || path.join(target, 'debug', 'coagent');
export const screens = path.join(repo, 'target', 'ui-screens');

const sealed = (home) => ({
  ...process.env,
  HOME: home,
  COAGENT_NO_CLIPBOARD: '1',
  NO_COLOR: '1',
  GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.invalid',
  GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.invalid',
});

/// A git project with one Python module, a hub and two TODOs.
export function project() {
  const root = mkdtempSync(path.join(tmpdir(), 'coagent-e2e-'));
  const home = path.join(root, 'home');
  const dir = path.join(root, 'greeter');
  mkdirSync(home); mkdirSync(path.join(dir, 'greeter'), { recursive: true });
  writeFileSync(path.join(dir, 'greeter', '__init__.py'),
    'def greet(name):\n    return "Hello " + name\n');
  writeFileSync(path.join(dir, 'README.md'), '# greeter\n\nSays hello.\n');
  const env = sealed(home);
  const git = (...a) => execFileSync('git', a, { cwd: dir, env, stdio: 'pipe' });
  git('init', '-q'); git('add', '.'); git('commit', '-qm', 'greeter');
  const cli = (...a) => execFileSync(bin, a, { cwd: dir, env, stdio: 'pipe' }).toString();
  cli('init');
  cli('todo', 'add', 'Greet with a comma: "Hello, Ada"', '--acceptance', 'greet("Ada") == "Hello, Ada"');
  cli('todo', 'add', 'Write down what the module does');
  return { root, dir, env, cli, json: (...a) => JSON.parse(cli('--json', ...a)) };
}

/// `coagent ui --no-open` on the project; resolves once it prints its address.
export function startUi(p) {
  const child = spawn(bin, ['--json', 'ui', '--no-open'], { cwd: p.dir, env: p.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`coagent ui printed no address: ${out} ${err}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.includes('"ui.started"')) continue;
        clearTimeout(timer);
        const started = JSON.parse(line);
        const origin = new URL(started.url).origin;
        resolve({ child, url: started.url, origin, port: Number(new URL(started.url).port), stderr: () => err });
      }
    });
    child.on('exit', (code) => reject(new Error(`coagent ui exited (${code}): ${err}`)));
  });
}

export async function stopUi(ui) {
  if (ui.child.exitCode !== null) return;
  const gone = new Promise((r) => ui.child.on('exit', r));
  ui.child.kill('SIGINT');
  await gone;
}

export async function browser() {
  const profile = mkdtempSync(path.join(tmpdir(), 'coagent-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/// Every console error and page error of `page`, for the test to assert there are none.
export function watchErrors(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  return errors;
}

/// Moves the focus with Tab alone until `selector` has it, then presses Enter: the page
/// works with the keyboard.
export async function tabTo(page, selector, key = 'Enter') {
  for (let i = 0; i < 400; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) {
      await page.keyboard.press(key);
      return;
    }
  }
  throw new Error(`Tab never reached ${selector}`);
}
