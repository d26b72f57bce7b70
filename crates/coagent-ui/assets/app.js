// CoAgent's page: Copy and Paste buttons, and a run's live output. Everything else is
// plain forms, so the page works with the keyboard alone and without this file.
'use strict';

function flashButton(button, text) {
  const before = button.dataset.label || button.textContent;
  button.dataset.label = before;
  button.textContent = text;
  setTimeout(() => { button.textContent = before; }, 2500);
}

document.addEventListener('click', (ev) => {
  const copy = ev.target.closest('button[data-copy]');
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    if (!source) return;
    navigator.clipboard.writeText(source.textContent).then(
      () => flashButton(copy, 'Copied ✓'),
      (e) => flashButton(copy, 'Not copied: ' + e.message),
    );
    return;
  }
  const paste = ev.target.closest('button[data-paste]');
  if (paste) {
    const into = document.getElementById(paste.dataset.paste);
    navigator.clipboard.readText().then(
      (text) => { into.value = text; into.focus(); },
      (e) => flashButton(paste, 'Not pasted: ' + e.message),
    );
  }
});

function follow(live) {
  const events = new EventSource(live.dataset.events);
  events.addEventListener('out', (ev) => {
    live.textContent += ev.data + '\n';
    live.scrollTop = live.scrollHeight;
  });
  events.addEventListener('done', () => {
    events.close();
    window.location.reload();
  });
}

// Offers a reload when the hub changes under the page; never reloads by itself (a reply
// half pasted into the box must not be lost).
function offerReload(banner) {
  const events = new EventSource(banner.dataset.changes);
  events.addEventListener('changed', () => {
    banner.hidden = false;
    events.close();
  });
  document.getElementById('reload').addEventListener('click', () => window.location.assign(fresh()));
}

// This page's address without the report of the action that opened it: after a change
// made elsewhere, that report is old news.
function fresh() {
  const url = new URL(window.location.href);
  url.searchParams.delete('report');
  if (url.hash === '#flash') url.hash = '';
  return url.toString();
}

document.addEventListener('DOMContentLoaded', () => {
  const live = document.querySelector('pre[data-events]');
  if (live) follow(live);
  const banner = document.querySelector('[data-changes]');
  if (banner) offerReload(banner);
  const flash = document.getElementById('flash');
  if (flash && window.location.hash === '#flash') flash.focus();
});
